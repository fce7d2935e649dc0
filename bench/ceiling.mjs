// The physical limit of a login here: bare bcrypt.compare at the service's cost, with the same
// number in flight and the same libuv thread pool, in a process of its own. Prints JSON.
import bcrypt from 'bcrypt'

const cost = Number(process.env.BCRYPT_COST ?? 10)
const concurrency = Number(process.env.CONCURRENCY ?? 16)
const durationMs = Number(process.env.DURATION_MS ?? 5000)
const hash = await bcrypt.hash('bench-password-123', cost)
const latencies = []
let done = 0
const cpuBefore = process.cpuUsage()
const start = performance.now()
const end = start + durationMs
async function worker () {
  while (performance.now() < end) {
    const t0 = performance.now()
    await bcrypt.compare('bench-password-123', hash)
    latencies.push(performance.now() - t0)
    done++
  }
}
await Promise.all(Array.from({ length: concurrency }, worker))
const elapsed = (performance.now() - start) / 1000
const cpu = process.cpuUsage(cpuBefore)
latencies.sort((a, b) => a - b)
// A single verification on an idle pool: the "one hash time" the overload goal is measured in.
const single = []
for (let i = 0; i < 5; i++) { const t0 = performance.now(); await bcrypt.compare('bench-password-123', hash); single.push(performance.now() - t0) }
single.sort((a, b) => a - b)
console.log(JSON.stringify({
  rps: done / elapsed,
  p50: latencies[Math.floor(latencies.length * 0.5)],
  p99: latencies[Math.floor(latencies.length * 0.99)],
  cpuMsPerHash: (cpu.user + cpu.system) / 1000 / done,
  singleHashMs: single[2]
}))
