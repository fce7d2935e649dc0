// The yardstick for logins: bare bcrypt.compare at the same cost and concurrency, in a process of
// its own (bench/ceiling.mjs), measured beside each login scenario (besideCeiling).
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { benchDir, CONNECTIONS, COST, D } from './options.mjs'

export function measureCeiling () {
  return JSON.parse(execFileSync(process.execPath, [path.join(benchDir, 'ceiling.mjs')], {
    env: { ...process.env, BCRYPT_COST: String(COST), CONCURRENCY: String(CONNECTIONS), DURATION_MS: String(D * 1000) }
  }).toString())
}

/** Field by field, the mean of several measurements. */
export const meanCeiling = (...runs) => Object.fromEntries(Object.keys(runs[0]).map((k) => [k, runs.reduce((a, r) => a + r[k], 0) / runs.length]))

// Every ceiling measured in this run, for the summary row; and the last one, while nothing else
// has loaded the machine since.
export const ceilingRuns = []
let adjacent = null

/** Another load ran: the last ceiling is no longer beside what comes next. */
export function ceilingIsStale () { adjacent = null }

/** A ceiling that goes into the run's summary row. */
export function measureCountedCeiling () {
  const result = measureCeiling()
  ceilingRuns.push(result)
  return result
}

/**
 * `run` (a login scenario) between two ceilings, the one after shared with the next scenario:
 * the host's other tenants move the machine's speed by several per cent within minutes (a run
 * read every login above 1.0 × ceilings measured minutes apart), so each ratio is taken against
 * the ceiling of its own minute. The result carries it as `ceiling`.
 */
export async function besideCeiling (run) {
  const before = adjacent ?? measureCountedCeiling()
  const result = await run()
  // The requests the load generator dropped at its end still hold the cores for a hash time or two.
  await sleep(1000)
  const after = measureCountedCeiling()
  adjacent = after
  return { ...result, ceiling: meanCeiling(before, after) }
}
