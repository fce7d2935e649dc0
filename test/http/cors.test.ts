import pg from 'pg'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/config.js'
import { ADMIN_DATABASE_URL, buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { createTfaUser, DEFAULT_PASSWORD } from '../flows.js'
import { TestClock } from '../helper.js'

const FRONTEND = 'https://app.example.com'

t.test('no CORS_ORIGINS: no CORS headers, no preflight route', async (t) => {
  const app = await buildTestApp(t)
  const preflight = await app.inject({ method: 'OPTIONS', url: '/login', headers: { origin: FRONTEND, 'access-control-request-method': 'POST' } })
  t.equal(preflight.statusCode, 404)
  t.notOk(preflight.headers['access-control-allow-origin'])
  const login = await app.inject({ method: 'POST', url: '/login', headers: { origin: FRONTEND }, payload: { username: 'nobody', password: 'wrong password' } })
  t.notOk(login.headers['access-control-allow-origin'], 'a page elsewhere cannot read the answer')
})

t.test('a listed origin: allowed, the login headers exposed, no credentials unless configured', async (t) => {
  const clock = new TestClock()
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), CORS_ORIGINS: `${FRONTEND}, https://other.example.org` }), { now: clock.now })
  const preflight = await app.inject({ method: 'OPTIONS', url: '/login', headers: { origin: FRONTEND, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], FRONTEND)
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
  t.match(String(preflight.headers['access-control-allow-headers']).toLowerCase(), /authorization/)
  t.notOk(preflight.headers['access-control-allow-credentials'], 'credentials not allowed by default')

  const user = await createTfaUser(app, clock)
  const login = await app.inject({ method: 'POST', url: '/login', headers: { origin: FRONTEND }, payload: { username: user.username, password: DEFAULT_PASSWORD } })
  t.equal(login.statusCode, 401)
  t.equal(login.headers['access-control-allow-origin'], FRONTEND)
  t.same(String(login.headers['access-control-expose-headers']).split(',').map(h => h.trim()).sort(), ['Retry-After', 'X-TFA-Method', 'X-TFA-Receipt'])
  t.ok(login.headers['x-tfa-receipt'])

  const stranger = await app.inject({ method: 'OPTIONS', url: '/login', headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' } })
  t.notOk(stranger.headers['access-control-allow-origin'], 'an origin not listed gets no allow-origin')
  const strangerLogin = await app.inject({ method: 'POST', url: '/login', headers: { origin: 'https://evil.example.net' }, payload: { username: user.username, password: DEFAULT_PASSWORD } })
  t.notOk(strangerLogin.headers['access-control-allow-origin'])
})

t.test('CORS_CREDENTIALS=true: credentials allowed for the listed origins only', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), CORS_ORIGINS: FRONTEND, CORS_CREDENTIALS: 'true' }))
  const preflight = await app.inject({ method: 'OPTIONS', url: '/token/refresh', headers: { origin: FRONTEND, 'access-control-request-method': 'POST' } })
  t.equal(preflight.headers['access-control-allow-credentials'], 'true')
  t.equal(preflight.headers['access-control-allow-origin'], FRONTEND, 'the origin itself, never *')
  t.throws(() => loadConfig({ CORS_CREDENTIALS: 'true' }), /CORS_CREDENTIALS/, 'credentials without origins refused at boot')
  t.throws(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' }), /CORS_ORIGINS/, 'an origin has no path')
  t.throws(() => loadConfig({ CORS_ORIGINS: '*' }), /CORS_ORIGINS/, 'no wildcard')
})

t.test('the preflight touches neither PostgreSQL nor Redis', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  // Redis: nothing listens on 6390. PostgreSQL: connections refused and the pool's cut once ready.
  const app = await buildApp(testConfig({ DATABASE_URL: databaseUrl, REDIS_URL: 'redis://127.0.0.1:6390', CORS_ORIGINS: FRONTEND }))
  t.teardown(async () => { await app.close() })
  await app.ready()
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
  await admin.connect()
  const name = new URL(databaseUrl).pathname.slice(1)
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`)
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name])
  await admin.end()

  for (const url of ['/login', '/me', '/sessions/00000000-0000-4000-8000-000000000000', '/tfa']) {
    const preflight = await app.inject({ method: 'OPTIONS', url, headers: { origin: FRONTEND, 'access-control-request-method': 'DELETE' } })
    t.equal(preflight.statusCode, 204, `${url}: answered`)
    t.equal(preflight.headers['access-control-allow-origin'], FRONTEND)
  }
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503, 'the backends really are away')
})
