// A supervisor (systemd, a process manager, a CI runner) often signals only the process it
// started: with `npm start`, that is npm. The server must not outlive it.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { builtFile, ROOT } from './built.js'
import { createTestDatabase, freePort, TEST_REDIS_URL } from './helper.js'

// Built first, so that prestart (scripts/setup.mjs) finds everything up to date and only starts.
builtFile('server.js')

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

t.test('SIGTERM to npm (only) stops the server `npm start` started', { timeout: 90_000 }, async (t) => {
  const port = await freePort()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'twofold-npm-start-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: await createTestDatabase(t),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `test:npm-start:${randomBytes(6).toString('hex')}:`,
      JWT_ALGORITHM: 'HS256',
      JWT_SECRET: randomBytes(32).toString('base64'),
      TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      DATA_DIR: dataDir,
      BCRYPT_COST: '4',
      LOG_LEVEL: 'info'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  npm.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  npm.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const npmExited = new Promise<void>((resolve) => npm.on('exit', () => resolve()))
  const server: { pid?: number } = {}
  t.teardown(() => {
    if (npm.exitCode === null) npm.kill('SIGKILL')
    if (server.pid !== undefined && alive(server.pid)) process.kill(server.pid, 'SIGKILL')
  })

  const deadline = Date.now() + 60_000
  let healthy = false
  while (!healthy && Date.now() < deadline && npm.exitCode === null) {
    healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(r => r.ok, () => false)
    if (!healthy) await sleep(200)
  }
  t.ok(healthy, `npm start serves /healthz (output: ${out.slice(-500)})`)
  if (!healthy) return
  // pino writes the process id on every line: the server's own, whatever sits between it and npm.
  const serverPid = server.pid = out.split('\n').map(line => { try { return (JSON.parse(line) as { pid?: number }).pid } catch { return undefined } }).find(pid => pid !== undefined)
  t.ok(serverPid, 'the server logged its pid')
  if (serverPid === undefined) return
  t.not(serverPid, npm.pid, 'the server is a process of its own')

  t.ok(npm.kill('SIGTERM'), 'SIGTERM to npm\'s pid only')
  await npmExited
  const gone = Date.now() + 15_000
  while (alive(serverPid) && Date.now() < gone) await sleep(100)
  t.notOk(alive(serverPid), 'the server is gone too')
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'and nothing listens on its port')
  t.match(out, /shutting down/, 'it shut down gracefully (close-with-grace), not killed')
})
