import { randomUUID } from 'node:crypto'
import t from 'tap'
import { errorBody, ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, loginToken, plainUser } from '../flows.js'

// The cases an outside tester found answering 500: a NUL (PostgreSQL refuses it in text) in a
// stored string, and a validly signed token whose `sub` is not a UUID. Each is now a 4xx envelope.
const clock = new TestClock()
const ADMIN = { username: 'odd-admin', password: 'odd admin password' }
const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password }), { now: clock.now })
const UNAUTHENTICATED_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.unauthenticated.message))

t.test('control characters in stored strings: 400, nothing stored', async (t) => {
  const user = await createTfaUser(app, clock)
  const plain = await plainUser(app)
  const admin = await loginToken(app, ADMIN)
  for (const bad of ['phone\u0000', 'a\u0001b', 'tab\there', 'line\nbreak', 'esc\u001b[31m', 'del\u007f']) {
    const rename = await app.inject({ method: 'PATCH', url: '/tfa', headers: bearer(user.token), payload: { device_name: bad } })
    t.equal(rename.statusCode, 400, `device_name ${JSON.stringify(bad)}`)
    const key = await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(plain.token), payload: { name: bad } })
    t.equal(key.statusCode, 400, `API key name ${JSON.stringify(bad)}`)
    for (const param of ['username', 'prefix']) {
      const search = await app.inject({ method: 'GET', url: `/admin/users?${param}=${encodeURIComponent(bad)}`, headers: bearer(admin) })
      t.equal(search.statusCode, 400, `admin search ${param}=${JSON.stringify(bad)}`)
      t.equal(search.json().error.code, 400, 'the envelope')
    }
  }
  t.equal(await app.prisma.apiKey.count({ where: { userId: plain.id } }), 0, 'no key created')
  t.equal((await app.inject({ method: 'PATCH', url: '/tfa', headers: bearer(user.token), payload: { device_name: 'Pixel 8 — Büro 😀' } })).statusCode, 200, 'any other text is fine')
})

t.test('a validly signed token whose ids are no UUIDs: 401, never a 500', async (t) => {
  const plain = await plainUser(app)
  const tokens = [
    app.accessTokens.sign({ sub: 'not-a-uuid', username: 'ghost', amr: ['pwd'], sid: randomUUID() } as never, 900),
    app.accessTokens.sign({ sub: "1' OR '1'='1", username: 'ghost', amr: ['pwd', 'otp', 'mfa'], sid: randomUUID() } as never, 900),
    app.accessTokens.sign({ sub: plain.id, username: plain.username, amr: ['pwd'], sid: 'nope' } as never, 900),
    app.accessTokens.sign({ sub: plain.id, username: plain.username, amr: ['pwd'], akid: 'nope', sid: randomUUID() } as never, 900)
  ]
  for (const token of tokens) {
    for (const [method, url] of [['GET', '/tfa'], ['GET', '/me'], ['GET', '/admin/users'], ['GET', `/admin/users/${plain.id}`], ['GET', '/api-keys'], ['GET', '/sessions']] as const) {
      const res = await app.inject({ method, url, headers: bearer(token) })
      t.equal(res.body, UNAUTHENTICATED_BODY, `${method} ${url}`)
    }
  }
})
