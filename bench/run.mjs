#!/usr/bin/env node
// `npm run bench [-- --duration 6] [-- --smoke] [-- --only two-step,retry-storm]`: builds and starts twofold (production build,
// PostgreSQL and Redis from the environment, one process), prepares users, runs every scenario
// with autocannon against 127.0.0.1 only, stops what it started, prints a Markdown table and
// writes bench/results/latest.json. See README "Performance".
// The helpers are in bench/lib/, the scenarios in bench/scenarios/; this file runs them in order.
// `--only` names from: logins, wrong-code, two-step, one-at-a-time, cheap-routes, refresh,
// overload, retry-storm, flood (the ceiling is always measured: once to size the users, then beside
// each login scenario).
// BENCH_NO_BUILD=1 runs the dist/ already built; BENCH_CPU_PROF=<dir> profiles each scenario.
import bcrypt from 'bcrypt'
import { ceilingRuns, meanCeiling, measureCountedCeiling } from './lib/measure-ceiling.mjs'
import { COST, D, log, only, PASSWORD, smoke } from './lib/options.mjs'
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
  if (!process.env.BENCH_NO_BUILD) buildProject()
  const code = await loadTotpCode()
  const scratch = await createScratchState()
  const env = serviceEnv(scratch)
  const results = {}
  try {
    log('ceiling: bare bcrypt.compare (measured again beside each login scenario, which is taken against its own)')
    results.ceiling = measureCountedCeiling()

    const server = await startServer({ ...env, ...WITHOUT_LIMITS }, 'twofold')
    const db = await scratch.connect()
    const hash = await bcrypt.hash(PASSWORD, COST)
    await insertUsers(db, 'plain', 1, hash)
    const tfa = await prepareTfaUsers({ server, db, hash, ceilingRps: results.ceiling.rps, code })
    const bench = { server, code, ...tfa }

    const s = results.scenarios = {}
    const run = async (name, scenario) => { if (only === null || only.has(name)) Object.assign(s, await scenario()) }
    await run('logins', () => concurrentLogins(bench))
    await run('wrong-code', () => wrongCodeLogins(bench))
    await run('two-step', () => twoStep(bench))
    await run('one-at-a-time', () => oneAtATime(bench))
    await run('cheap-routes', () => cheapRoutes(bench))
    await run('refresh', () => refresh(bench))
    await run('overload', () => overload(bench))
    await run('retry-storm', () => retryStorm(bench))
    // The summary row and what is measured in hash times: the mean of every ceiling of the run.
    results.ceilingRuns = ceilingRuns
    results.ceiling = meanCeiling(...ceilingRuns)
    results.serverPeakRssMb = processStats(server.pid).peakRssMb
    await stop(server.child)

    // On a server of its own with the real limits; its legitimate load is sized by the mean ceiling.
    await run('flood', () => flood({ env, db, hash, ceilingRps: results.ceiling.rps }))
  } finally {
    await scratch.remove()
  }
  report(results)
}

if (process.argv.includes('--scale')) await (await import('./scale.mjs')).runScale()
else await main()
process.exit(0)
