#!/usr/bin/env node
// `npm run bench:pending [-- --values 2,4,6,8] [-- --duration 6]`: the data for choosing the
// MAX_PENDING_HASHES default. For each value, a fresh twofold with it, and clients that retry a
// 503 at once at 10 and 50 in flight; prints logins/s ÷ the bcrypt ceiling (goal ≥ 0.9) and the
// served p99 ÷ one hash (goal ≤ 4) per value. See README "Performance".
import bcrypt from 'bcrypt'
import { measureCeiling } from './lib/measure-ceiling.mjs'
import { COST, D, log, PASSWORD } from './lib/options.mjs'
import { buildProject } from './lib/project.mjs'
import { createScratchState, insertUsers } from './lib/scratch-state.mjs'
import { serviceEnv, WITHOUT_LIMITS } from './lib/service-env.mjs'
import { startServer, stop } from './lib/servers.mjs'
import { retryStorm } from './scenarios/retry-storm.mjs'

const argv = process.argv.slice(2)
const valuesArg = argv.indexOf('--values')
const values = (valuesArg >= 0 ? argv[valuesArg + 1] : '2,3,4,6,8').split(',').map(Number)

buildProject()
const scratch = await createScratchState()
const rows = []
try {
  const ceiling = measureCeiling()
  log(`ceiling ${ceiling.rps.toFixed(1)}/s, one hash ${ceiling.singleHashMs.toFixed(1)} ms`)
  const env = serviceEnv(scratch)
  const hash = await bcrypt.hash(PASSWORD, COST)
  let db
  for (const pending of values) {
    log(`MAX_PENDING_HASHES=${pending}`)
    const server = await startServer({ ...env, ...WITHOUT_LIMITS, MAX_PENDING_HASHES: String(pending) }, 'twofold')
    // The first server's start migrated the scratch database: the users table exists from now on.
    if (db === undefined) {
      db = await scratch.connect()
      await insertUsers(db, 'plain', 1, hash)
    }
    const { retry10, retry50 } = await retryStorm({ server })
    await stop(server.child)
    const overHash = (r) => r.okP99 === null ? '–' : (r.okP99 / ceiling.singleHashMs).toFixed(2)
    rows.push(`| ${pending} | ${(retry10.loginsPerSecond / ceiling.rps).toFixed(3)} | ${(retry50.loginsPerSecond / ceiling.rps).toFixed(3)} | ${overHash(retry10)} | ${overHash(retry50)} |`)
  }
} finally {
  await scratch.remove()
}
console.log([`${D} s per run, BCRYPT_COST=${COST}.`, '', '| MAX_PENDING_HASHES | logins / ceiling, 10 in flight | 50 in flight | served p99 / one hash, 10 | 50 |', '|---:|---:|---:|---:|---:|', ...rows].join('\n'))
process.exit(0)
