#!/usr/bin/env node
// `npm run bench [-- --duration 6] [-- --smoke]`: builds and starts twofold (production build,
// PostgreSQL and Redis from the environment, one process), prepares users, runs every scenario
// with autocannon against 127.0.0.1 only, stops what it started, prints a Markdown table and
// writes bench/results/latest.json. See README "Performance".
// The helpers are in bench/lib/, the scenarios in bench/scenarios/; this file runs them in order.
import bcrypt from 'bcrypt'
import { meanCeiling, measureCeiling } from './lib/measure-ceiling.mjs'
import { COST, D, log, PASSWORD, smoke } from './lib/options.mjs'
import { processStats } from './lib/process-stats.mjs'
import { buildProject, loadTotpCode } from './lib/project.mjs'
import { report } from './lib/report.mjs'
import { createScratchState, insertUsers } from './lib/scratch-state.mjs'
import { serviceEnv, WITHOUT_LIMITS } from './lib/service-env.mjs'
import { startServer, stop } from './lib/servers.mjs'
import { prepareTfaUsers } from './lib/tfa-users.mjs'
import { cheapRoutes } from './scenarios/cheap-routes.mjs'
import { concurrentLogins, wrongCodeLogins } from './scenarios/concurrent-logins.mjs'
import { flood } from './scenarios/flood.mjs'
import { oneAtATime } from './scenarios/one-at-a-time.mjs'
import { overload } from './scenarios/overload.mjs'
import { refresh } from './scenarios/refresh.mjs'
import { retryStorm } from './scenarios/retry-storm.mjs'
import { twoStep } from './scenarios/two-step.mjs'

async function main () {
  log(`building (duration ${D}s per scenario${smoke ? ', smoke' : ''})`)
  buildProject()
  const code = await loadTotpCode()
  const scratch = await createScratchState()
  const env = serviceEnv(scratch)
  const results = {}
  try {
    log('ceiling: bare bcrypt.compare (measured again after the logins; the mean is used)')
    const firstCeiling = measureCeiling()
    results.ceiling = firstCeiling

    const server = await startServer({ ...env, ...WITHOUT_LIMITS }, 'twofold')
    const db = await scratch.connect()
    const hash = await bcrypt.hash(PASSWORD, COST)
    await insertUsers(db, 'plain', 1, hash)
    const tfa = await prepareTfaUsers({ server, db, hash, ceilingRps: results.ceiling.rps, code })
    const bench = { server, code, ...tfa }

    const s = results.scenarios = {}
    Object.assign(s, await concurrentLogins(bench))
    log('ceiling, second measurement')
    const secondCeiling = measureCeiling()
    results.ceilingRuns = [firstCeiling, secondCeiling]
    results.ceiling = meanCeiling(firstCeiling, secondCeiling)
    Object.assign(s, await wrongCodeLogins(bench))
    Object.assign(s, await twoStep(bench))
    Object.assign(s, await oneAtATime(bench))
    Object.assign(s, await cheapRoutes(bench))
    Object.assign(s, await refresh(bench))
    Object.assign(s, await overload(bench))
    Object.assign(s, await retryStorm(bench))
    results.serverPeakRssMb = processStats(server.pid).peakRssMb
    await stop(server.child)

    // On a server of its own with the real limits; its legitimate load is sized by the mean ceiling.
    Object.assign(s, await flood({ env, db, hash, ceilingRps: results.ceiling.rps }))
  } finally {
    await scratch.remove()
  }
  report(results)
}

if (process.argv.includes('--scale')) await (await import('./scale.mjs')).runScale()
else await main()
process.exit(0)
