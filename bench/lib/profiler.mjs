// BENCH_CPU_PROF=<dir>: a V8 CPU profile of the service for each measured scenario alone (not
// its start-up or the users' enrolment), through the inspector protocol. For diagnosis only: the
// profiler costs the service CPU, so figures from such a run are not the ones to report.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const PROFILE_DIR = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null
const profilers = new Map()
let sequence = 0

/** The node flag that opens the inspector on a free loopback port; its address comes on stderr. */
export const inspectFlags = () => PROFILE_DIR === null ? [] : ['--inspect=127.0.0.1:0']

/** Connects to the inspector whose address `stderr` announced, for the process `pid`. */
export async function attachProfiler (pid, stderr) {
  const url = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(stderr)?.[0]
  if (PROFILE_DIR === null || url === undefined) return
  if (typeof WebSocket !== 'function') throw new Error('BENCH_CPU_PROF needs a Node.js with a global WebSocket (22 or later)')
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject })
  let id = 0
  const pending = new Map()
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data)
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result)
  }
  const send = (method, params = {}) => new Promise((resolve) => { pending.set(++id, resolve); ws.send(JSON.stringify({ id, method, params })) })
  await send('Profiler.enable')
  await send('Profiler.setSamplingInterval', { interval: 200 })
  profilers.set(pid, {
    start: () => send('Profiler.start'),
    async stop (label) {
      const { profile } = await send('Profiler.stop')
      mkdirSync(PROFILE_DIR, { recursive: true })
      const file = path.join(PROFILE_DIR, `${String(++sequence).padStart(2, '0')}-${label.replace(/[^\w]+/g, '-').slice(0, 60)}.cpuprofile`)
      writeFileSync(file, JSON.stringify(profile))
    },
    close: () => ws.close()
  })
}

export const profilerOf = (pid) => profilers.get(pid)
