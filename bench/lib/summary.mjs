// Latencies kept per status, so the served and the refused are apart, and the figures made of them.

function percentile (sorted, p) { return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] }

/** Rates and percentiles over all answers and over the 2xx ones; `byStatus` maps status → latencies (ms). */
export function summarize (byStatus, duration, extra) {
  const all = [...byStatus.values()].flat().sort((a, b) => a - b)
  const ok = [...byStatus].filter(([status]) => status < 300).flatMap(([, l]) => l).sort((a, b) => a - b)
  return {
    duration,
    rps: all.length / duration,
    okRps: ok.length / duration,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    okP50: percentile(ok, 0.5),
    okP99: percentile(ok, 0.99),
    statuses: Object.fromEntries([...byStatus].map(([status, l]) => [status, l.length])),
    ...extra,
    byStatus
  }
}

/** Several measured runs of one scenario as one: counts and CPU summed, percentiles over all latencies. */
export function combine (runs) {
  const byStatus = new Map()
  for (const r of runs) for (const [status, list] of r.byStatus) byStatus.set(status, [...(byStatus.get(status) ?? []), ...list])
  const sum = (field) => runs.reduce((a, r) => a + r[field], 0)
  return summarize(byStatus, sum('duration'), { errors: sum('errors'), timeouts: sum('timeouts'), serverCpuMs: sum('serverCpuMs'), serverMainCpuMs: sum('serverMainCpuMs') })
}
