// Starting and stopping the processes under test: twofold's production build and the bare
// Fastify hello-world it is compared with.
import { fork, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { track } from './children.mjs'
import { benchDir, root } from './options.mjs'
import { attachProfiler, inspectFlags, profilerOf } from './profiler.mjs'

export async function freePort () {
  return await new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
}

/** dist/server.js with `env` only (plus PATH): nothing from the caller's environment leaks in. */
export async function startServer (env, label) {
  const port = await freePort()
  const child = track(spawn(process.execPath, [...inspectFlags(), 'dist/server.js'], { cwd: root, env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] }))
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) {
        await attachProfiler(child.pid, stderr)
        return { base, child, pid: child.pid }
      }
    } catch {}
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`${label} did not start: ${stderr}`)
}

/** bench/hello-server.mjs, ready when it says so. */
export async function startHelloServer () {
  const port = await freePort()
  const child = track(fork(path.join(benchDir, 'hello-server.mjs'), { env: { ...process.env, PORT: String(port) } }))
  await new Promise((resolve) => child.once('message', resolve))
  return { base: `http://127.0.0.1:${port}`, child, pid: child.pid }
}

export async function stop (child) {
  if (child.exitCode !== null) return
  // An inspector still attached would keep the process waiting for it to disconnect.
  profilerOf(child.pid)?.close()
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
}
