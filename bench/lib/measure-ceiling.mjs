// The yardstick for logins: bare bcrypt.compare at the same cost and concurrency, in a process of
// its own (bench/ceiling.mjs), measured before and after the login scenarios.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { benchDir, CONNECTIONS, COST, D } from './options.mjs'

export function measureCeiling () {
  return JSON.parse(execFileSync(process.execPath, [path.join(benchDir, 'ceiling.mjs')], {
    env: { ...process.env, BCRYPT_COST: String(COST), CONCURRENCY: String(CONNECTIONS), DURATION_MS: String(D * 1000) }
  }).toString())
}

/** Field by field, the mean of two measurements: one before the logins, one after. */
export const meanCeiling = (first, second) => Object.fromEntries(Object.keys(first).map((k) => [k, (first[k] + second[k]) / 2]))
