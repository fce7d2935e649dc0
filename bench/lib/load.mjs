// Load generation with autocannon, and the server's CPU and memory around it.
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { track } from './children.mjs'
import { benchDir, CONNECTIONS, D, lastLog, log, root } from './options.mjs'
import { profilerOf } from './profiler.mjs'
import { ceilingIsStale } from './measure-ceiling.mjs'
import { cpuBetween, machineCpu } from './machine-cpu.mjs'
import { processStats } from './process-stats.mjs'
import { summarize } from './summary.mjs'

/**
 * One autocannon run; `setupRequest` gives each request a body of its own, `requests` is a
 * sequence each connection runs in a loop (autocannon's own, with setupRequest and onResponse).
 */
export async function load ({ url, connections = CONNECTIONS, duration = D, method = 'GET', headers = {}, body, setupRequest, requests }) {
  const byStatus = new Map()
  const instance = autocannon({
    url,
    connections,
    duration,
    method,
    timeout: 30,
    headers: { 'content-type': 'application/json', ...headers },
    body,
    requests: requests ?? (setupRequest ? [{ method, setupRequest }] : undefined)
  })
  let sampled = false
  instance.on('response', (client, status, _bytes, ms) => {
    if (status >= 500 && !sampled && process.env.BENCH_DEBUG) { sampled = true; client.once('body', (b) => log(`  sample ${status}: ${b}`)) }
    if (!byStatus.has(status)) byStatus.set(status, [])
    byStatus.get(status).push(ms)
  })
  const result = await instance
  return summarize(byStatus, duration, { errors: result.errors, timeouts: result.timeouts })
}

/** `run` (a load) with the CPU time process `pid` spent during it and its peak RSS after. */
export async function measure (pid, run) {
  ceilingIsStale()
  // Requests abandoned when the previous run stopped still hold hash slots on the server for a
  // hash time or two; starting at once would measure that, not the scenario.
  await sleep(1000)
  const before = processStats(pid)
  const label = lastLog
  await profilerOf(pid)?.start()
  const machineBefore = machineCpu(pid)
  const result = await run()
  const machineAfter = machineCpu(pid)
  await profilerOf(pid)?.stop(label)
  const after = processStats(pid)
  const cpu = cpuBetween(machineBefore, machineAfter, after.cpuMs - before.cpuMs)
  log(`  ${result.rps.toFixed(1)} req/s, statuses ${JSON.stringify(result.statuses)}`)
  return { ...result, serverCpuMs: after.cpuMs - before.cpuMs, serverMainCpuMs: after.mainCpuMs - before.mainCpuMs, peakRssMb: after.peakRssMb, cpu }
}

/**
 * Runs `measured` while bench/load-process.mjs sends `options` at the lowest CPU priority.
 * `measured(start)` calls start() when its own load begins: both then cover the same seconds,
 * and throughput counted over both is not inflated by one of them running alone.
 */
export async function runLowPriority (options, measured) {
  const child = track(spawn(process.execPath, [path.join(benchDir, 'load-process.mjs'), JSON.stringify(options)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] }))
  const start = () => { child.stdin.end('go\n') }
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const result = await measured(start)
  await exited
  return { measured: result, low: JSON.parse(out) }
}
