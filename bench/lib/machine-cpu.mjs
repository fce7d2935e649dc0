// Where the machine's CPU went during a run: the service, PostgreSQL, Redis, the load generator
// (this process and its children) and everything else, from /proc (Linux). On a shared two-core
// host every millisecond outside bcrypt comes out of the logins, whoever spends it.
import { readdirSync, readFileSync } from 'node:fs'
import { CLK_TCK, readStat } from './process-stats.mjs'

const toMs = (ticks) => ticks * 1000 / CLK_TCK

/**
 * Busy, idle and stolen milliseconds of all cores together (/proc/stat's first line). Steal is
 * the hypervisor running someone else on our cores: a noisy neighbour, not our work.
 */
function machine () {
  const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = t
  return { busyMs: toMs(user + nice + system + irq + softirq), idleMs: toMs(idle + iowait), stealMs: toMs(steal) }
}

/**
 * utime + stime of every live process by pid, with the consumer it counts for: a name of
 * `names`, or the load generator (this process's children). Per pid, so that a process that
 * ends during a run (a PostgreSQL backend) takes only its own time away, not its whole life.
 */
function byCommand (names, selfPids, serverPid) {
  const out = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === serverPid) continue
    const stat = readStat(`/proc/${entry}/stat`)
    if (stat === null) continue
    if (selfPids.has(stat.ppid)) out.set(entry, { consumer: 'load generator', ms: stat.cpuMs })
    else if (names.includes(stat.comm)) out.set(entry, { consumer: stat.comm, ms: stat.cpuMs })
  }
  return out
}

const SERVICES = ['postgres', 'redis-server']

/** The service's CPU by thread name: its event loop, the libuv pool (bcrypt), V8's helpers (GC). */
function threadsOf (pid) {
  const out = {}
  let tasks = []
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const tid of tasks) {
    const stat = readStat(`/proc/${pid}/task/${tid}/stat`)
    if (stat === null) continue
    // Numbered threads (libuv-worker1, …) count under one name.
    const name = Number(tid) === pid ? 'main' : stat.comm.replace(/[0-9]+$/, '').trim()
    out[name] = (out[name] ?? 0) + stat.cpuMs
  }
  return out
}

/** A snapshot (the service under test, `serverPid`, is read apart by the caller); cpuBetween compares two. */
export function machineCpu (serverPid) {
  const self = new Set([process.pid])
  const m = machine()
  return { ...m, services: byCommand(SERVICES, self, serverPid), self: process.cpuUsage(), threads: threadsOf(serverPid) }
}

/**
 * CPU milliseconds spent between two snapshots: `server` is filled in by the caller (it reads
 * the service's own /proc entry); the load generator counts this process and its children
 * (bench/load-process.mjs), other is what nobody above accounts for.
 */
export function cpuBetween (before, after, serverMs) {
  const services = { postgres: 0, 'redis-server': 0, 'load generator': 0 }
  for (const [pid, { consumer, ms }] of after.services) services[consumer] += ms - (before.services.get(pid)?.ms ?? 0)
  const busyMs = after.busyMs - before.busyMs
  const idleMs = after.idleMs - before.idleMs
  const stealMs = after.stealMs - before.stealMs
  // This process: cpuUsage is in µs and finer than /proc's ticks.
  const selfMs = ((after.self.user - before.self.user) + (after.self.system - before.self.system)) / 1000
  const loadMs = selfMs + services['load generator']
  delete services['load generator']
  const known = serverMs + loadMs + Object.values(services).reduce((a, b) => a + b, 0)
  const threads = Object.fromEntries(Object.keys(after.threads).map((k) => [k, after.threads[k] - (before.threads[k] ?? 0)]))
  return { busyMs, idleMs, stealMs, serverMs, serverThreads: threads, postgresMs: services.postgres, redisMs: services['redis-server'], loadGeneratorMs: loadMs, otherMs: Math.max(0, busyMs - known) }
}
