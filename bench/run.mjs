#!/usr/bin/env node
// `npm run bench [-- --duration 6] [-- --smoke]`: builds and starts twofold (production build,
// PostgreSQL and Redis from the environment, one process), prepares users, runs every scenario
// with autocannon against 127.0.0.1 only, stops what it started, prints a Markdown table and
// writes bench/results/latest.json. See README "Performance".
import autocannon from 'autocannon'
import bcrypt from 'bcrypt'
import { execFileSync, execSync, fork, spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Secret, TOTP } from 'otpauth'
import pg from 'pg'

const root = path.resolve(import.meta.dirname, '..')
const argv = process.argv.slice(2)
const smoke = argv.includes('--smoke')
const durationArg = argv.indexOf('--duration')
const D = durationArg >= 0 ? Number(argv[durationArg + 1]) : (smoke ? 1 : 6)
// As many logins in flight as the service lets wait for a hash (its MAX_PENDING_HASHES default),
// and the ceiling measured at the same concurrency.
const CONNECTIONS = Number(process.env.MAX_PENDING_HASHES ?? 2 * Math.min(os.availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE ?? 4) || 4))
const COST = Number(process.env.BCRYPT_COST ?? 10)
const CHEAP_CONNECTIONS = 32
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PASSWORD = 'bench-password-123'
const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim())

const children = new Set()
process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })
process.on('SIGINT', () => process.exit(130))

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`)

async function freePort () {
  return await new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
}

function processStats (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  // The main thread (tid = pid) alone: the JavaScript and syscalls of a request, without the
  // hashing threads and V8's helpers.
  const main = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return {
    cpuMs: (Number(stat[11]) + Number(stat[12])) * 1000 / CLK_TCK,
    mainCpuMs: (Number(main[11]) + Number(main[12])) * 1000 / CLK_TCK,
    rssMb: kb('VmRSS') / 1024,
    peakRssMb: kb('VmHWM') / 1024
  }
}

async function startServer (env, label) {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/server.js'], { cwd: root, env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] })
  children.add(child)
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/readyz`)).ok) return { base, child, pid: child.pid } } catch {}
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`${label} did not start: ${stderr}`)
}

async function stop (child) {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  children.delete(child)
}

function percentile (sorted, p) { return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] }

/** Rates and percentiles of latencies kept per status, so the served and the refused are apart. */
function summarize (byStatus, duration, extra) {
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

/** One autocannon run. */
async function load ({ url, connections = CONNECTIONS, duration = D, method = 'GET', headers = {}, body, setupRequest }) {
  const byStatus = new Map()
  const instance = autocannon({
    url,
    connections,
    duration,
    method,
    timeout: 30,
    headers: { 'content-type': 'application/json', ...headers },
    body,
    requests: setupRequest ? [{ method, setupRequest }] : undefined
  })
  let sampled = false
  instance.on('response', (client, status, _bytes, ms) => {
    if (status >= 500 && !sampled && process.env.BENCH_DEBUG) { sampled = true; client.once('body', (b) => log(`  sample ${status}: ${b}`)) }
    if (!byStatus.has(status)) byStatus.set(status, [])
    byStatus.get(status).push(ms)
  })
  const result = await instance
  return summarize(byStatus, duration, { errors: result.errors, timeouts: result.timeouts })
}

/** Several measured runs of one scenario as one: counts and CPU summed, percentiles over all latencies. */
function combine (runs) {
  const byStatus = new Map()
  for (const r of runs) for (const [status, list] of r.byStatus) byStatus.set(status, [...(byStatus.get(status) ?? []), ...list])
  const sum = (field) => runs.reduce((a, r) => a + r[field], 0)
  return summarize(byStatus, sum('duration'), { errors: sum('errors'), timeouts: sum('timeouts'), serverCpuMs: sum('serverCpuMs'), serverMainCpuMs: sum('serverMainCpuMs') })
}

async function measure (pid, run) {
  // Requests abandoned when the previous run stopped still hold hash slots on the server for a
  // hash time or two; starting at once would measure that, not the scenario.
  await sleep(1000)
  const before = processStats(pid)
  const result = await run()
  log(`  ${result.rps.toFixed(1)} req/s, statuses ${JSON.stringify(result.statuses)}`)
  const after = processStats(pid)
  return { ...result, serverCpuMs: after.cpuMs - before.cpuMs, serverMainCpuMs: after.mainCpuMs - before.mainCpuMs, peakRssMb: after.peakRssMb }
}

/** Bare bcrypt.compare at the same cost and concurrency, in a process of its own (bench/ceiling.mjs). */
function measureCeiling () {
  return JSON.parse(execFileSync(process.execPath, [path.join(import.meta.dirname, 'ceiling.mjs')], {
    env: { ...process.env, BCRYPT_COST: String(COST), CONCURRENCY: String(CONNECTIONS), DURATION_MS: String(D * 1000) }
  }).toString())
}

function mintToken (secret, sub) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub, username: 'bench', amr: ['pwd'], iss: 'twofold', iat: now, exp: now + 3600 })}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}

const code = (secret, at = Date.now()) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at })

async function insertUsers (db, prefix, count, hash) {
  const { rows } = await db.query(
    `INSERT INTO users (id, username, password_hash, updated_at)
     SELECT gen_random_uuid(), $1 || i, $2, now() FROM generate_series(1, $3::int) AS i RETURNING id, username`, [prefix, hash, count])
  return rows
}

/**
 * Hands out each TFA user once with the current step's code; when all are used, once more with
 * the next step's (still inside TOTP_WINDOW=1, and later than the step they used: no replay).
 */
function makeQueue (users) {
  let i = 0
  return {
    next () {
      const round = Math.floor(i / users.length)
      const user = users[i++ % users.length]
      if (round > 1) throw new Error(`bench ran out of TFA users after ${i - 1} requests: raise the count in bench/run.mjs`)
      return { ...user, offsetMs: round * 30_000 }
    }
  }
}

/** Runs `measured` while bench/load-process.mjs sends `options` at the lowest CPU priority. */
async function runLowPriority (options, measured) {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'load-process.mjs'), JSON.stringify(options)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const result = await measured()
  await exited
  children.delete(child)
  return { measured: result, low: JSON.parse(out) }
}

async function pool (items, concurrency, fn) {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < items.length) await fn(items[next++]) }))
}

async function main () {
  log(`building (duration ${D}s per scenario${smoke ? ', smoke' : ''})`)
  execSync('npm run -s build', { cwd: root, stdio: 'inherit' })

  const dbName = `twofold_bench_${process.pid}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${dbName}`)
  const dbUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${dbName}` }).toString()
  const prefix = `bench:${process.pid}:`
  const jwtSecret = randomBytes(48).toString('base64')
  const baseEnv = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    BCRYPT_COST: String(COST),
    DATABASE_URL: dbUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: jwtSecret,
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TRUST_PROXY: 'true',
    ...(process.env.MAX_PENDING_HASHES ? { MAX_PENDING_HASHES: process.env.MAX_PENDING_HASHES } : {}),
    ...(process.env.UV_THREADPOOL_SIZE ? { UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE } : {})
  }
  const results = {}
  let db
  try {
    log('ceiling: bare bcrypt.compare (measured again after the logins; the mean is used)')
    const firstCeiling = measureCeiling()
    results.ceiling = firstCeiling

    // Throughput server: limits out of the way, so what is measured is the login itself.
    const server = await startServer({ ...baseEnv, RATE_LIMIT_LOGIN_MAX: '1000000000', RATE_LIMIT_TFA_MAX: '1000000000', TFA_MAX_FAILURES: '1000000' }, 'twofold')
    db = new pg.Client({ connectionString: dbUrl })
    await db.connect()
    const hash = await bcrypt.hash(PASSWORD, COST)
    await insertUsers(db, 'plain', 1, hash)
    // Replay protection lets a code in once: every TFA login gets a user of its own.
    const perScenario = Math.ceil(Math.max(results.ceiling.rps, 40) * D * 1.5) + 50
    const tfaUsers = await insertUsers(db, 'tfa', perScenario * 2 + 1, hash)
    log(`enrolling ${tfaUsers.length} TFA users through the API`)
    await pool(tfaUsers, 8, async (user) => {
      const auth = { authorization: `Bearer ${mintToken(jwtSecret, user.id)}`, 'content-type': 'application/json' }
      const enable = await (await fetch(`${server.base}/tfa/enable`, { method: 'POST', headers: { authorization: auth.authorization } })).json()
      user.secret = enable.secret
      // The previous step's code: the logins that follow use later steps, never a replay.
      // (A step boundary crossed between client and server can put it out of the window: retry.)
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${server.base}/tfa/validate`, { method: 'POST', headers: auth, body: JSON.stringify({ totp: code(user.secret, Date.now() - 30_000) }) })
        if (res.ok) break
        if (attempt === 3) throw new Error(`validate failed: ${res.status} ${await res.text()}`)
      }
    })
    const wrongCodeUser = tfaUsers.pop()
    const queues = { appended: makeQueue(tfaUsers.slice(0, perScenario)), field: makeQueue(tfaUsers.slice(perScenario)) }

    const loginUrl = `${server.base}/login`
    const s = results.scenarios = {}
    log('login, no TFA')
    s.loginNoTfa = await measure(server.pid, () => load({ url: loginUrl, method: 'POST', body: JSON.stringify({ username: 'plain1', password: PASSWORD }) }))
    log('login, TFA, code appended')
    s.loginTfaAppended = await measure(server.pid, () => load({
      url: loginUrl,
      method: 'POST',
      setupRequest: (req) => { const u = queues.appended.next(); return { ...req, body: JSON.stringify({ username: u.username, password: PASSWORD + code(u.secret, Date.now() + u.offsetMs) }) } }
    }))
    log('login, TFA, code in its own field')
    s.loginTfaField = await measure(server.pid, () => load({
      url: loginUrl,
      method: 'POST',
      setupRequest: (req) => { const u = queues.field.next(); return { ...req, body: JSON.stringify({ username: u.username, password: PASSWORD, totp: code(u.secret, Date.now() + u.offsetMs) }) } }
    }))
    log('ceiling, second measurement')
    const secondCeiling = measureCeiling()
    results.ceilingRuns = [firstCeiling, secondCeiling]
    results.ceiling = Object.fromEntries(Object.keys(firstCeiling).map((k) => [k, (firstCeiling[k] + secondCeiling[k]) / 2]))
    log('right password, wrong code')
    const wrong = String((Number(code(wrongCodeUser.secret)) + 500000) % 1000000).padStart(6, '0')
    s.wrongCode = await measure(server.pid, () => load({ url: loginUrl, method: 'POST', body: JSON.stringify({ username: wrongCodeUser.username, password: PASSWORD, totp: wrong }) }))

    // One connection, no-TFA and TFA logins in alternating blocks, so both see the same machine:
    // the difference of their medians is what the second factor adds.
    log('latency of one login at a time, alternating no TFA / TFA blocks (the cost of the second factor)')
    const single = { plain: [], tfa: [] }
    const block = Math.max(1, Math.round(D / 4))
    for (let round = 0; round < 4; round++) {
      single.plain.push(await measure(server.pid, () => load({ url: loginUrl, method: 'POST', connections: 1, duration: block, body: JSON.stringify({ username: 'plain1', password: PASSWORD }) })))
      single.tfa.push(await measure(server.pid, () => load({
        url: loginUrl,
        method: 'POST',
        connections: 1,
        duration: block,
        setupRequest: (req) => { const u = queues.appended.next(); return { ...req, body: JSON.stringify({ username: u.username, password: PASSWORD + code(u.secret, Date.now() + u.offsetMs) }) } }
      })))
    }
    s.singleNoTfa = combine(single.plain)
    s.singleTfa = combine(single.tfa)

    log('cheap routes')
    const token = mintToken(jwtSecret, wrongCodeUser.id)
    // Enough connections that the server, not the round trip, is the limit.
    const cheap = { duration: Math.max(1, D / 2), connections: CHEAP_CONNECTIONS }
    const helloPort = await freePort()
    const hello = fork(path.join(import.meta.dirname, 'hello-server.mjs'), { env: { ...process.env, PORT: String(helloPort) } })
    children.add(hello)
    await new Promise((resolve) => hello.once('message', resolve))
    // GET /me and hello-world in alternating blocks, so their ratio compares like with like.
    const me = []
    const helloRuns = []
    // autocannon counts whole seconds: blocks of 1 s.
    for (let round = 0; round < Math.max(1, Math.round(D / 2)); round++) {
      me.push(await measure(server.pid, () => load({ url: `${server.base}/me`, ...cheap, duration: 1, headers: { authorization: `Bearer ${token}` } })))
      helloRuns.push(await measure(hello.pid, () => load({ url: `http://127.0.0.1:${helloPort}/`, ...cheap, duration: 1 })))
    }
    s.me = combine(me)
    s.helloWorld = combine(helloRuns)
    await stop(hello)
    s.tfaStatus = await measure(server.pid, () => load({ url: `${server.base}/tfa`, ...cheap, headers: { authorization: `Bearer ${token}` } }))
    s.healthz = await measure(server.pid, () => load({ url: `${server.base}/healthz`, ...cheap }))

    // 50 logins in flight: as many as the service has hash slots from this process (their
    // latencies are the ones reported), the rest from a lowest-priority process standing in for
    // clients on other machines, whose CPU on a real deployment is not the service's.
    log('overload: 50 concurrent logins')
    const loginBody = JSON.stringify({ username: 'plain1', password: PASSWORD })
    const others = await runLowPriority({ url: loginUrl, method: 'POST', connections: 50 - CONNECTIONS, duration: D, timeout: 30, headers: { 'content-type': 'application/json' }, body: loginBody }, async () =>
      await measure(server.pid, () => load({ url: loginUrl, method: 'POST', connections: CONNECTIONS, body: loginBody })))
    s.overload = others.measured
    s.overloadOthers = others.low
    results.serverPeakRssMb = processStats(server.pid).peakRssMb
    await stop(server.child)

    // Flood: real limits; the legitimate client is many users behind many addresses, the flood
    // one address guessing one account's password.
    log('flood: wrong passwords from one client while another logs in')
    const limited = await startServer({ ...baseEnv, RATE_LIMIT_LOGIN_MAX: '20', RATE_LIMIT_LOGIN_WINDOW: '60000' }, 'twofold (rate limited)')
    const legit = await insertUsers(db, 'legit', Math.ceil(results.ceiling.rps * D * 2 / 10) + 50, hash)
    let n = 0
    const legitRequest = (req) => {
      const u = legit[n % legit.length]
      n++
      return { ...req, headers: { ...req.headers, 'x-forwarded-for': `10.1.${(n >> 8) & 255}.${n & 255}` }, body: JSON.stringify({ username: u.username, password: PASSWORD }) }
    }
    s.legitUnflooded = await measure(limited.pid, () => load({ url: `${limited.base}/login`, method: 'POST', setupRequest: legitRequest }))
    // Let the logins abandoned when that run stopped finish: they hold hash slots for a moment.
    await sleep(1000)
    // The flood's sender runs at the lowest priority in its own process: an attacker's CPU is
    // not the service's. What it costs the service (accepting, refusing) is measured.
    const floodOptions = { url: `${limited.base}/login`, method: 'POST', connections: 32, duration: D, timeout: 30, headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' }, body: JSON.stringify({ username: 'plain1', password: 'not-the-password' }) }
    const { measured: legitFlooded, low: flood } = await runLowPriority(floodOptions, async () =>
      await load({ url: `${limited.base}/login`, method: 'POST', setupRequest: legitRequest }))
    s.legitFlooded = legitFlooded
    s.flood = flood
    await stop(limited.child)
  } finally {
    await db?.end()
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
    await admin.end()
    execFileSync('redis-cli', ['-u', REDIS_URL, '--no-auth-warning', 'eval', "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end", '0', `${prefix}*`], { stdio: 'ignore' })
  }
  report(results)
}

function report (results) {
  const { ceiling, scenarios: s } = results
  const logins = (r) => r.statuses[200] ?? 0
  const cpuBeyondHash = (r) => r.serverCpuMs / Math.max(1, logins(r)) - ceiling.cpuMsPerHash
  const mainCpu = (r) => r.serverMainCpuMs / Math.max(1, logins(r))
  const ratios = {
    tfaLoginOverCeiling: s.loginTfaAppended.okRps / ceiling.rps,
    tfaFieldLoginOverCeiling: s.loginTfaField.okRps / ceiling.rps,
    noTfaLoginOverCeiling: s.loginNoTfa.okRps / ceiling.rps,
    meOverHelloWorld: s.me.okRps / s.helloWorld.okRps,
    cpuMsBeyondHashTfa: cpuBeyondHash(s.loginTfaAppended),
    cpuMsBeyondHashNoTfa: cpuBeyondHash(s.loginNoTfa),
    mainThreadCpuMsTfa: mainCpu(s.loginTfaAppended),
    mainThreadCpuMsNoTfa: mainCpu(s.loginNoTfa),
    secondFactorMedianMs: s.singleTfa.okP50 - s.singleNoTfa.okP50,
    overloadServedP99OverHash: s.overload.okP99 / ceiling.singleHashMs,
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
    'legitimate logins under flood >= 0.8 x unflooded': ratios.legitUnderFloodOverUnflooded >= 0.8
  }
  const f = (x, d = 1) => x === null || x === undefined ? '–' : Number(x).toFixed(d)
  const rows = [
    ['ceiling: bcrypt.compare', ceiling.rps, ceiling.p50, ceiling.p99, '', `cost ${COST}, ${CONNECTIONS} in flight`],
    ...Object.entries({
      'login, no TFA': s.loginNoTfa,
      'login, TFA, code appended': s.loginTfaAppended,
      'login, TFA, code in `totp`': s.loginTfaField,
      'right password, wrong code (401)': s.wrongCode,
      'one at a time: login, no TFA': s.singleNoTfa,
      'one at a time: login, TFA': s.singleTfa,
      'GET /me': s.me,
      'GET /tfa': s.tfaStatus,
      'GET /healthz': s.healthz,
      'hello-world (bare Fastify)': s.helloWorld,
      [`overload: 50 concurrent logins, the ${CONNECTIONS} measured`]: s.overload,
      [`overload: the other ${50 - CONNECTIONS} (low priority)`]: s.overloadOthers,
      'legitimate logins, no flood': s.legitUnflooded,
      'legitimate logins during flood': s.legitFlooded,
      'the flood (one IP, wrong password)': s.flood
    }).map(([name, r]) => [name, r.rps, r.okP50 ?? r.p50, r.okP99 ?? r.p99, JSON.stringify(r.statuses).replace(/"/g, ''), r.errors || r.timeouts ? `errors ${r.errors}, timeouts ${r.timeouts}` : ''])
  ]
  const lines = [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${D} s per scenario, ${CONNECTIONS} connections unless said.`,
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
    `| server CPU ms per TFA login beyond the hash | ${f(ratios.cpuMsBeyondHashTfa, 2)} |`,
    `| server CPU ms per no-TFA login beyond the hash | ${f(ratios.cpuMsBeyondHashNoTfa, 2)} |`,
    `| of which the main thread, per TFA / no-TFA login (ms) | ${f(ratios.mainThreadCpuMsTfa, 2)} / ${f(ratios.mainThreadCpuMsNoTfa, 2)} |`,
    `| second factor's cost on the median login (ms) | ${f(ratios.secondFactorMedianMs, 2)} |`,
    `| overload: served p99 / one hash (${f(ceiling.singleHashMs)} ms) | ${f(ratios.overloadServedP99OverHash, 2)} |`,
    `| legitimate logins during flood / without | ${f(ratios.legitUnderFloodOverUnflooded, 3)} |`,
    `| server peak RSS (MB) | ${f(results.serverPeakRssMb)} |`,
    '',
    '| goal | met |',
    '|---|---|',
    ...Object.entries(goals).map(([goal, met]) => `| ${goal} | ${met ? 'yes' : '**no**'} |`)
  ]
  const markdown = lines.join('\n')
  console.log(markdown)
  for (const r of Object.values(s)) delete r.byStatus
  mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true })
  writeFileSync(path.join(import.meta.dirname, 'results', 'latest.json'), JSON.stringify({ date: new Date().toISOString(), durationSeconds: D, smoke, results, ratios, goals, markdown }, null, 2) + '\n')
}

await main()
process.exit(0)
