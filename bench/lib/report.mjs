// The results as Markdown tables on stdout (README "Performance") and as bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { benchDir, CONNECTIONS, COST, D, JWT_ALGORITHM, smoke } from './options.mjs'

/** The ratios the goals are stated in, and whether each goal is met. */
// A scenario left out by `--only` reads as not measured: its figures are '–', its goals unknown.
const MISSING = { rps: NaN, okRps: NaN, p50: NaN, p99: NaN, okP50: NaN, okP99: NaN, statuses: {}, serverCpuMs: NaN, serverMainCpuMs: NaN, loginsPerSecond: NaN, errors: 0, timeouts: 0, others: { rps: NaN, statuses: {} } }
const withMissing = (scenarios) => new Proxy(scenarios, { get: (t, k) => t[k] ?? MISSING })
// A login scenario against the ceilings measured beside it (besideCeiling), if it has them.
const ceilingOf = (r, runCeiling) => r.ceiling ?? runCeiling

function figures ({ ceiling, scenarios }) {
  const s = withMissing(scenarios)
  const logins = (r) => r.statuses[200] ?? 0
  const cpuBeyondHash = (r) => r.serverCpuMs / Math.max(1, logins(r)) - ceilingOf(r, ceiling).cpuMsPerHash
  const mainCpu = (r) => r.serverMainCpuMs / Math.max(1, logins(r))
  const ratios = {
    tfaLoginOverCeiling: s.loginTfaAppended.okRps / ceilingOf(s.loginTfaAppended, ceiling).rps,
    tfaFieldLoginOverCeiling: s.loginTfaField.okRps / ceilingOf(s.loginTfaField, ceiling).rps,
    noTfaLoginOverCeiling: s.loginNoTfa.okRps / ceilingOf(s.loginNoTfa, ceiling).rps,
    meOverHelloWorld: s.me.okRps / s.helloWorld.okRps,
    cpuMsPerRefresh: s.refresh.serverCpuMs / Math.max(1, s.refresh.statuses[200] ?? 0),
    cpuMsBeyondHashTfa: cpuBeyondHash(s.loginTfaAppended),
    cpuMsBeyondHashNoTfa: cpuBeyondHash(s.loginNoTfa),
    mainThreadCpuMsTfa: mainCpu(s.loginTfaAppended),
    mainThreadCpuMsNoTfa: mainCpu(s.loginNoTfa),
    secondFactorMedianMs: s.singleTfa.okP50 - s.singleNoTfa.okP50,
    overloadServedP99OverHash: s.overload.okP99 / ceiling.singleHashMs,
    receiptLoginOverCeiling: s.receiptLogin.okRps / ceilingOf(s.receiptLogin, ceiling).rps,
    trustedDeviceLoginOverCeiling: s.trustedDeviceLogin.okRps / ceilingOf(s.trustedDeviceLogin, ceiling).rps,
    retry10OverCeiling: s.retry10.loginsPerSecond / ceilingOf(s.retry10, ceiling).rps,
    retry50OverCeiling: s.retry50.loginsPerSecond / ceilingOf(s.retry50, ceiling).rps,
    retry10ServedP99OverHash: s.retry10.okP99 / ceiling.singleHashMs,
    retry50ServedP99OverHash: s.retry50.okP99 / ceiling.singleHashMs,
    legitUnderFloodOverUnflooded: s.legitFlooded.okRps / s.legitUnflooded.okRps
  }
  const overloadStatuses = {}
  for (const part of [s.overload, s.overloadOthers]) for (const [k, v] of Object.entries(part.statuses)) overloadStatuses[k] = (overloadStatuses[k] ?? 0) + v
  const answered = Object.values(overloadStatuses).reduce((a, b) => a + b, 0)
  const goals = {
    'TFA login >= 0.95 x ceiling': ratios.tfaLoginOverCeiling >= 0.95,
    'CPU beyond the hash <= 1.5 ms per TFA login': ratios.cpuMsBeyondHashTfa <= 1.5,
    'second factor adds < 1 ms to the median': ratios.secondFactorMedianMs < 1,
    'GET /me >= 0.5 x hello-world': ratios.meOverHelloWorld >= 0.5,
    'overload: served p99 <= 4 x one hash': ratios.overloadServedP99OverHash <= 4,
    'overload: every request answered (200 or 503)': s.overload.errors + s.overloadOthers.errors === 0 && s.overload.timeouts + s.overloadOthers.timeouts === 0 && answered === (overloadStatuses[200] ?? 0) + (overloadStatuses[503] ?? 0),
    'legitimate logins under flood >= 0.8 x unflooded': ratios.legitUnderFloodOverUnflooded >= 0.8,
    'two-step login with a receipt >= 0.9 x ceiling (one hash per login)': ratios.receiptLoginOverCeiling >= 0.9,
    'clients retrying a 503 at once, 10 in flight: logins >= 0.9 x ceiling': ratios.retry10OverCeiling >= 0.9,
    'clients retrying a 503 at once, 50 in flight: logins >= 0.9 x ceiling': ratios.retry50OverCeiling >= 0.9,
    'clients retrying a 503 at once: served p99 <= 4 x one hash (10 and 50)': ratios.retry10ServedP99OverHash <= 4 && ratios.retry50ServedP99OverHash <= 4
  }
  // A goal whose figures were not measured (left out by --only) is unknown, not missed.
  for (const [goal, deps] of Object.entries(GOAL_FIGURES)) if (deps.some((d) => !Number.isFinite(ratios[d]))) goals[goal] = null
  return { ratios, goals }
}

const GOAL_FIGURES = {
  'TFA login >= 0.95 x ceiling': ['tfaLoginOverCeiling'],
  'CPU beyond the hash <= 1.5 ms per TFA login': ['cpuMsBeyondHashTfa'],
  'second factor adds < 1 ms to the median': ['secondFactorMedianMs'],
  'GET /me >= 0.5 x hello-world': ['meOverHelloWorld'],
  'overload: served p99 <= 4 x one hash': ['overloadServedP99OverHash'],
  'overload: every request answered (200 or 503)': ['overloadServedP99OverHash'],
  'legitimate logins under flood >= 0.8 x unflooded': ['legitUnderFloodOverUnflooded'],
  'two-step login with a receipt >= 0.9 x ceiling (one hash per login)': ['receiptLoginOverCeiling'],
  'clients retrying a 503 at once, 10 in flight: logins >= 0.9 x ceiling': ['retry10OverCeiling'],
  'clients retrying a 503 at once, 50 in flight: logins >= 0.9 x ceiling': ['retry50OverCeiling'],
  'clients retrying a 503 at once: served p99 <= 4 x one hash (10 and 50)': ['retry10ServedP99OverHash', 'retry50ServedP99OverHash']
}

/**
 * Where each login's CPU went, over the whole machine: at the ceiling both cores do nothing but
 * bcrypt, so whatever a login costs beyond its hash, in any process, is what keeps it under.
 */
function cpuTable (ceiling, scenarios) {
  const rows = Object.entries({
    'login, no TFA': [scenarios.loginNoTfa, (r) => r.statuses[200]],
    'login, TFA, code appended': [scenarios.loginTfaAppended, (r) => r.statuses[200]],
    'two-step login with a receipt': [scenarios.receiptLogin, (r) => r.statuses[200]],
    'login with a remembered device': [scenarios.trustedDeviceLogin, (r) => r.statuses[200]],
    'retrying 503s at once, 10 in flight': [scenarios.retry10, (r) => r.loginsPerSecond * r.duration],
    'retrying 503s at once, 50 in flight': [scenarios.retry50, (r) => r.loginsPerSecond * r.duration]
  }).filter(([, [r]]) => r?.cpu !== undefined)
  if (rows.length === 0) return []
  const f = (x) => Number.isFinite(x) ? x.toFixed(2) : '–'
  return [
    '',
    `CPU per login over the whole machine, in ms (the ceiling spends ${f(ceiling.cpuMsPerHash)} ms per hash and nothing else, in the mean of the run; "beyond the hash" is taken against the ceilings beside each scenario):`,
    '',
    '| scenario | machine busy | service | of which beyond the hash | PostgreSQL | Redis | load generator | other | idle | stolen by the host |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(([name, [r, count]]) => {
      const n = Math.max(1, count(r) ?? 0)
      const c = r.cpu
      return `| ${name} | ${f(c.busyMs / n)} | ${f(c.serverMs / n)} | ${f(c.serverMs / n - ceilingOf(r, ceiling).cpuMsPerHash)} | ${f(c.postgresMs / n)} | ${f(c.redisMs / n)} | ${f(c.loadGeneratorMs / n)} | ${f(c.otherMs / n)} | ${f(c.idleMs / n)} | ${f(c.stealMs / n)} |`
    })
  ]
}

function markdown ({ ceiling, ceilingRuns = [ceiling], scenarios, serverPeakRssMb }, ratios, goals) {
  const s = withMissing(scenarios)
  const f = (x, d = 1) => x === null || x === undefined || !Number.isFinite(Number(x)) ? '–' : Number(x).toFixed(d)
  const ceilingCount = ceilingRuns.length
  const ceilingRange = `${f(Math.min(...ceilingRuns.map((c) => c.rps)))}–${f(Math.max(...ceilingRuns.map((c) => c.rps)))}/s`
  const rows = [
    ['ceiling: bcrypt.compare', ceiling.rps, ceiling.p50, ceiling.p99, '', `cost ${COST}, ${CONNECTIONS} in flight; mean of the run's ${ceilingCount} (${ceilingRange})`],
    ...Object.entries({
      'login, no TFA': s.loginNoTfa,
      'login, TFA, code appended': s.loginTfaAppended,
      'login, TFA, code in `totp`': s.loginTfaField,
      'right password, wrong code (401)': s.wrongCode,
      'two-step login: password → 401 + receipt → POST /login/tfa': s.receiptLogin,
      'login with a remembered device (password + device_token)': s.trustedDeviceLogin,
      'one at a time: login, no TFA': s.singleNoTfa,
      'one at a time: login, TFA': s.singleTfa,
      'GET /me': s.me,
      'GET /tfa': s.tfaStatus,
      'GET /healthz': s.healthz,
      'GET /.well-known/jwks.json': s.jwks,
      'POST /introspect (an active token)': s.introspect,
      'POST /token/refresh (rotation)': s.refresh,
      'hello-world (bare Fastify)': s.helloWorld,
      [`overload: 50 concurrent logins, the ${CONNECTIONS} measured`]: s.overload,
      [`overload: the other ${50 - CONNECTIONS} (low priority)`]: s.overloadOthers,
      [`retrying 503s at once, 10 in flight: the ${Math.min(CONNECTIONS, 10)} measured`]: s.retry10,
      [`retrying 503s at once, 10 in flight: the other ${10 - Math.min(CONNECTIONS, 10)}`]: s.retry10.others,
      [`retrying 503s at once, 50 in flight: the ${CONNECTIONS} measured`]: s.retry50,
      [`retrying 503s at once, 50 in flight: the other ${50 - CONNECTIONS}`]: s.retry50.others,
      'legitimate logins, no flood': s.legitUnflooded,
      'legitimate logins during flood': s.legitFlooded,
      'the flood (one IP, wrong password)': s.flood
    }).filter(([, r]) => r !== MISSING && r !== MISSING.others).map(([name, r]) => [name, r.rps, r.okP50 ?? r.p50, r.okP99 ?? r.p99, JSON.stringify(r.statuses).replace(/"/g, ''), r.errors || r.timeouts ? `errors ${r.errors}, timeouts ${r.timeouts}` : ''])
  ]
  return [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${D} s per scenario, ${CONNECTIONS} connections unless said. Access tokens: ${JWT_ALGORITHM}.`,
    '',
    '| scenario | req/s | p50 ms (2xx) | p99 ms (2xx) | statuses | notes |',
    '|---|---:|---:|---:|---|---|',
    ...rows.map(([name, rps, p50, p99, st, note]) => `| ${name} | ${f(rps)} | ${f(p50)} | ${f(p99)} | ${st} | ${note} |`),
    '',
    '| ratio / figure | value |',
    '|---|---:|',
    `| TFA login (appended) / ceiling | ${f(ratios.tfaLoginOverCeiling, 3)} |`,
    `| TFA login (\`totp\` field) / ceiling | ${f(ratios.tfaFieldLoginOverCeiling, 3)} |`,
    `| no-TFA login / ceiling | ${f(ratios.noTfaLoginOverCeiling, 3)} |`,
    `| GET /me / hello-world | ${f(ratios.meOverHelloWorld, 3)} |`,
    `| server CPU ms per refresh | ${f(ratios.cpuMsPerRefresh, 2)} |`,
    `| server CPU ms per TFA login beyond the hash | ${f(ratios.cpuMsBeyondHashTfa, 2)} |`,
    `| server CPU ms per no-TFA login beyond the hash | ${f(ratios.cpuMsBeyondHashNoTfa, 2)} |`,
    `| of which the main thread, per TFA / no-TFA login (ms) | ${f(ratios.mainThreadCpuMsTfa, 2)} / ${f(ratios.mainThreadCpuMsNoTfa, 2)} |`,
    `| second factor's cost on the median login (ms) | ${f(ratios.secondFactorMedianMs, 2)} |`,
    `| overload: served p99 / one hash (${f(ceiling.singleHashMs)} ms) | ${f(ratios.overloadServedP99OverHash, 2)} |`,
    `| legitimate logins during flood / without | ${f(ratios.legitUnderFloodOverUnflooded, 3)} |`,
    `| two-step login with a receipt / ceiling | ${f(ratios.receiptLoginOverCeiling, 3)} |`,
    `| login with a remembered device / ceiling | ${f(ratios.trustedDeviceLoginOverCeiling, 3)} |`,
    `| retrying 503s at once, 10 / 50 in flight: logins / ceiling | ${f(ratios.retry10OverCeiling, 3)} / ${f(ratios.retry50OverCeiling, 3)} |`,
    `| retrying 503s at once, 10 / 50 in flight: served p99 / one hash | ${f(ratios.retry10ServedP99OverHash, 2)} / ${f(ratios.retry50ServedP99OverHash, 2)} |`,
    `| server peak RSS (MB) | ${f(serverPeakRssMb)} |`,
    ...cpuTable(ceiling, scenarios),
    '',
    '| goal | met |',
    '|---|---|',
    ...Object.entries(goals).map(([goal, met]) => `| ${goal} | ${met === null ? 'not run' : met ? 'yes' : '**no**'} |`)
  ].join('\n')
}

export function report (results) {
  const { ratios, goals } = figures(results)
  const text = markdown(results, ratios, goals)
  console.log(text)
  // The raw latencies are for the figures above only: the file keeps the summaries.
  for (const r of Object.values(results.scenarios)) delete r.byStatus
  mkdirSync(path.join(benchDir, 'results'), { recursive: true })
  writeFileSync(path.join(benchDir, 'results', 'latest.json'), JSON.stringify({ date: new Date().toISOString(), durationSeconds: D, smoke, jwtAlgorithm: JWT_ALGORITHM, results, ratios, goals, markdown: text }, null, 2) + '\n')
}
