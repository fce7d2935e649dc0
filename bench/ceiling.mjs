// The physical limit of a login here: bare bcrypt.compare at the service's cost, with the same
// number in flight and the same libuv thread pool, in a process of its own. Prints JSON.
import bcrypt from 'bcrypt'

const cost = Number(process.env.BCRYPT_COST ?? 10)
const concurrency = Number(process.env.CONCURRENCY ?? 16)
const durationMs = Number(process.env.DURATION_MS ?? 5000)
const hash = await bcrypt.hash('bench-password-123', cost)
const latencies = []
let done = 0
// Counted as autocannon counts the logins: what completes within the window, over its length.
// The compares still in flight at its end are not counted (the load generator drops those
// requests), and their CPU so far is: the same loss on both sides of the ratio (README
// "Performance").
let window
const cpuBefore = process.cpuUsage()
const start = performance.now()
const closed = new Promise((resolve) => setTimeout(() => {
  window = { done, cpu: process.cpuUsage(cpuBefore), seconds: (performance.now() - start) / 1000 }
  resolve()
}, durationMs))
const windowOpen = () => window === undefined
async function worker () {
  while (windowOpen()) {
    const t0 = performance.now()
    await bcrypt.compare('bench-password-123', hash)
    if (!windowOpen()) break
    latencies.push(performance.now() - t0)
    done++
  }
}
await Promise.all([closed, ...Array.from({ length: concurrency }, worker)])
latencies.sort((a, b) => a - b)
// A single verification on an idle pool: the "one hash time" the overload goal is measured in.
const single = []
for (let i = 0; i < 5; i++) { const t0 = performance.now(); await bcrypt.compare('bench-password-123', hash); single.push(performance.now() - t0) }
single.sort((a, b) => a - b)
console.log(JSON.stringify({
  rps: window.done / window.seconds,
  p50: latencies[Math.floor(latencies.length * 0.5)],
  p99: latencies[Math.floor(latencies.length * 0.99)],
  cpuMsPerHash: (window.cpu.user + window.cpu.system) / 1000 / window.done,
  singleHashMs: single[2]
}))
