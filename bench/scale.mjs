// `npm run bench -- --scale [--users 1000000] [--events 10000000] [--duration 6]`: how the cost
// of login, GET /tfa/events, the admin prefix search and session listing grows with the data.
// Each is measured at 1 k users (10 k events), then again after growing the same database to
// `--users` users and `--events` events by SQL, and reported as ratios; then a retention round
// on the large table. Not in CI: the load alone takes minutes. See README "Performance".
import bcrypt from 'bcrypt'
import { bearer, logIn, logInSession } from './lib/api-client.mjs'
import { load, measure } from './lib/load.mjs'
import { COST, D, log, PASSWORD } from './lib/options.mjs'
import { buildProject } from './lib/project.mjs'
import { explain, growEvents, growUsers } from './lib/scale-data.mjs'
import { createScratchState } from './lib/scratch-state.mjs'
import { serviceEnv, WITHOUT_LIMITS } from './lib/service-env.mjs'
import { startServer, stop } from './lib/servers.mjs'

const argv = process.argv.slice(2)
const arg = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : fallback }
const USERS = arg('--users', 1_000_000)
const EVENTS = arg('--events', 10_000_000)
const SMALL_USERS = 1000
const SMALL_EVENTS = 10_000
const OWN_EVENTS = 100 // the measured user's own events: the same at both sizes, so only the table grows

async function scenarios (server, { users, tokens }) {
  const pick = (n) => `scale${1 + Math.floor(Math.random() * n)}`
  const results = {}
  log(`  login (random user of ${users})`)
  results.login = await measure(server.pid, () => load({
    url: `${server.base}/login`,
    method: 'POST',
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ username: pick(users), password: PASSWORD }) })
  }))
  log('  GET /tfa/events')
  results.events = await measure(server.pid, () => load({ url: `${server.base}/tfa/events?limit=20`, headers: bearer(tokens.user), connections: 16 }))
  log('  GET /admin/users?prefix=')
  results.prefixSearch = await measure(server.pid, () => load({
    url: `${server.base}/admin/users`,
    headers: bearer(tokens.admin),
    connections: 16,
    setupRequest: (req) => ({ ...req, path: `/admin/users?prefix=${pick(Math.min(users, 999))}` })
  }))
  log('  GET /sessions')
  results.sessions = await measure(server.pid, () => load({ url: `${server.base}/sessions`, headers: bearer(tokens.user), connections: 16 }))
  return results
}

async function retentionRound (db, databaseUrl) {
  log('retention: one round on the large table (AUDIT_RETENTION_DAYS=400)')
  const { pathToFileURL } = await import('node:url')
  const path = await import('node:path')
  const { root } = await import('./lib/options.mjs')
  const { PrismaPg } = await import('@prisma/adapter-pg')
  const { PrismaClient } = await import(pathToFileURL(path.join(root, 'dist', 'generated', 'prisma', 'client.js')).href)
  const { createAuditRetention } = await import(pathToFileURL(path.join(root, 'dist', 'auth', 'audit-retention.js')).href)
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) })
  const { rows: [{ old }] } = await db.query("SELECT count(*)::int AS old FROM security_events WHERE created_at < now() - interval '400 days'")
  const batches = []
  let last = process.hrtime.bigint()
  const retention = createAuditRetention({
    prisma,
    now: Date.now,
    retentionDays: 400,
    onPurged: () => { const t = process.hrtime.bigint(); batches.push(Number(t - last) / 1e6); last = t }
  })
  const started = Date.now()
  const { deleted } = await retention.purge()
  const seconds = (Date.now() - started) / 1000
  await prisma.$disconnect()
  batches.sort((a, b) => a - b)
  return { old, deleted, seconds, batches: batches.length, batchP50Ms: batches[Math.floor(batches.length / 2)] ?? null, batchMaxMs: batches.at(-1) ?? null }
}

export async function runScale () {
  log(`scale: ${SMALL_USERS} users / ${SMALL_EVENTS} events, then ${USERS} / ${EVENTS} (duration ${D}s per scenario)`)
  buildProject()
  const scratch = await createScratchState()
  const env = { ...serviceEnv(scratch), ...WITHOUT_LIMITS, ADMIN_REQUIRE_TFA: 'false', DATABASE_POOL_MAX: '10' }
  try {
    let server = await startServer(env, 'twofold') // applies the migrations
    const db = await scratch.connect()
    const hash = await bcrypt.hash(PASSWORD, COST)
    await growUsers(db, { from: 0, to: SMALL_USERS, hash })
    await db.query("UPDATE users SET role = 'admin' WHERE username = 'scale1'")
    const { rows: [measured] } = await db.query("SELECT id FROM users WHERE username = 'scale2'")
    await db.query(`INSERT INTO security_events (id, user_id, type, created_at)
      SELECT gen_random_uuid(), $1, 'login.succeeded', now() - g * interval '1 hour' FROM generate_series(1, $2::int) g`, [measured.id, OWN_EVENTS])
    const { rows: admin } = await db.query("SELECT id FROM users WHERE username = 'scale1'")
    const skip = [measured.id, admin[0].id]
    await growEvents(db, { from: 0, to: SMALL_EVENTS, skip })
    // Tokens with a session each (the measured user's session list: its open one plus these).
    const tokens = { admin: await logIn(server.base, { username: 'scale1', password: PASSWORD }), user: (await logInSession(server.base, { username: 'scale2', password: PASSWORD })).access_token }

    log('small')
    const small = await scenarios(server, { users: SMALL_USERS, tokens })
    await stop(server.child)

    log(`growing to ${USERS} users and ${EVENTS} events (SQL)`)
    const loadStarted = Date.now()
    await growUsers(db, { from: SMALL_USERS, to: USERS, hash })
    await growEvents(db, { from: SMALL_EVENTS, to: EVENTS, skip })
    const loadSeconds = (Date.now() - loadStarted) / 1000
    const { rows: [sizes] } = await db.query(`SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM security_events)::int AS events,
      pg_size_pretty(pg_total_relation_size('security_events')) AS events_size`)
    log(`  loaded in ${loadSeconds.toFixed(0)} s: ${JSON.stringify(sizes)}`)

    // A fresh server: nothing cached from the small run.
    server = await startServer(env, 'twofold')
    log('large')
    const large = await scenarios(server, { users: USERS, tokens })
    await stop(server.child)

    const plans = {
      events: await explain(db, 'SELECT * FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 21', [measured.id]),
      prefixSearch: await explain(db, "SELECT id, username FROM users WHERE username LIKE 'scale12%' ORDER BY username LIMIT 21")
    }
    const retention = await retentionRound(db, scratch.databaseUrl)
    report({ small, large, sizes, loadSeconds, plans, retention })
  } finally {
    await scratch.remove()
  }
}

function report ({ small, large, sizes, loadSeconds, plans, retention }) {
  const rows = [['login', 'login'], ['events', 'GET /tfa/events'], ['prefixSearch', 'GET /admin/users?prefix='], ['sessions', 'GET /sessions']]
  const fmt = (x) => x === null || x === undefined ? '–' : x.toFixed(1)
  const lines = [
    `| route | ${SMALL_USERS} users: req/s, p50 / p99 ms | ${sizes.users} users, ${sizes.events} events: req/s, p50 / p99 ms | time ratio (p50 large / small) |`,
    '|---|---|---|---|'
  ]
  for (const [key, label] of rows) {
    const s = small[key]; const l = large[key]
    lines.push(`| ${label} | ${fmt(s.rps)}, ${fmt(s.p50)} / ${fmt(s.p99)} | ${fmt(l.rps)}, ${fmt(l.p50)} / ${fmt(l.p99)} | ${(l.p50 / s.p50).toFixed(2)}× (throughput ${(s.rps / l.rps).toFixed(2)}×) |`)
  }
  console.log(lines.join('\n'))
  console.log(`\nloaded by SQL in ${loadSeconds.toFixed(0)} s; security_events: ${sizes.events_size}`)
  console.log(`retention: ${retention.deleted} of ${retention.old} events older than 400 days deleted in ${retention.seconds.toFixed(1)} s, ${retention.batches} batches, per batch p50 ${fmt(retention.batchP50Ms)} ms, max ${fmt(retention.batchMaxMs)} ms`)
  console.log('\nplan, GET /tfa/events:\n' + plans.events + '\n\nplan, prefix search:\n' + plans.prefixSearch)
  for (const [key] of rows) {
    if (small[key].statuses && Object.keys(small[key].statuses).some(s => s !== '200')) console.log(`note: ${key} small statuses ${JSON.stringify(small[key].statuses)}`)
    if (large[key].statuses && Object.keys(large[key].statuses).some(s => s !== '200')) console.log(`note: ${key} large statuses ${JSON.stringify(large[key].statuses)}`)
  }
}
