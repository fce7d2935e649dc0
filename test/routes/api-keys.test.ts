import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { API_KEY_PREFIX, generateApiKey, isWellFormedApiKey } from '../../src/auth/api-key-format.js'
import { generateTotpCode } from '../../src/auth/totp.js'
import { errorBody, ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, login, loginToken, plainUser, TFA_REQUIRED_BODY, decodeClaims } from '../flows.js'

const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
// A long login token, to show that key tokens are capped at 15 minutes whatever JWT_TTL_SECONDS says.
const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, JWT_TTL_SECONDS: '3600' }), { now: clock.now })
const INVALID_API_KEY_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.invalidApiKey.message))

const createKey = async (token: string, payload: Record<string, string> = { name: 'ci' }) =>
  await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(token), payload })
const exchange = async (key: string) => await app.inject({ method: 'POST', url: '/token', headers: { authorization: `ApiKey ${key}` } })
const claimsOf = (token: string) => decodeClaims(token) as { sub: string, amr: string[], iat: number, exp: number }

t.test('create → exchange at /token → the token works as a Bearer token', async (t) => {
  const user = await plainUser(app)
  const created = await createKey(user.token, { name: 'deploy bot' })
  t.equal(created.statusCode, 201, created.body)
  const body = created.json() as { id: string, name: string, key: string, expires_at: string | null }
  t.same(Object.keys(body).sort(), ['expires_at', 'id', 'key', 'name'])
  t.equal(body.name, 'deploy bot')
  t.equal(body.expires_at, null)
  t.match(body.key, /^twofold_ak_[0-9A-Za-z]{49}$/)
  t.ok(isWellFormedApiKey(body.key))

  const res = await exchange(body.key)
  t.equal(res.statusCode, 200, res.body)
  const token = res.json() as { access_token: string, token_type: string, expires_in: number }
  t.equal(token.token_type, 'Bearer')
  t.equal(token.expires_in, 900, 'capped at 15 minutes although JWT_TTL_SECONDS is 3600')
  const claims = claimsOf(token.access_token)
  t.same(claims.amr, ['api_key'])
  t.equal(claims.sub, user.id)
  t.equal(claims.exp - claims.iat, 900)
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(token.access_token) })
  t.same(me.json(), { id: user.id, username: user.username })

  const list = await app.inject({ method: 'GET', url: '/api-keys', headers: bearer(user.token) })
  const [listed] = (list.json() as { api_keys: Array<{ last_used_at: string | null }> }).api_keys
  t.ok(listed?.last_used_at, 'last_used_at is set by the exchange')

  await app.audit.flush()
  const types = (await app.prisma.securityEvent.findMany({ where: { userId: user.id }, select: { type: true } })).map(e => e.type)
  t.ok(types.includes('api_key.created'))
  t.equal(types.filter(x => x === 'api_key.used').length, 1)
  await exchange(body.key)
  await app.audit.flush()
  t.equal(await app.prisma.securityEvent.count({ where: { userId: user.id, type: 'api_key.used' } }), 1, 'api_key.used at most once an hour per key')
})

t.test('an API key keeps working after its owner enables TFA: no code asked', async (t) => {
  const user = await plainUser(app)
  const { key } = (await createKey(user.token)).json() as { key: string }
  const { secret } = (await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(user.token) })).json() as { secret: string }
  t.equal((await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(user.token), payload: { totp: generateTotpCode(secret, clock.now()) } })).statusCode, 200)
  clock.advance(30_000)
  t.equal((await login(app, { username: user.username, password: user.password })).body, TFA_REQUIRED_BODY, 'the password alone no longer logs in')
  const res = await exchange(key)
  t.equal(res.statusCode, 200, res.body)
})

t.test('a revoked key fails at once; another user cannot revoke it', async (t) => {
  const owner = await plainUser(app)
  const other = await plainUser(app)
  const { id, key } = (await createKey(owner.token)).json() as { id: string, key: string }
  t.equal((await exchange(key)).statusCode, 200)

  const foreign = await app.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: bearer(other.token) })
  t.equal(foreign.statusCode, 404, "another user's key is not found")
  t.equal((await exchange(key)).statusCode, 200, 'still works')

  const revoke = await app.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: bearer(owner.token) })
  t.equal(revoke.statusCode, 204)
  const after = await exchange(key)
  t.equal(after.statusCode, 401)
  t.equal(after.body, INVALID_API_KEY_BODY)
  t.equal((await app.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: bearer(owner.token) })).statusCode, 404, 'revoking twice')
  await app.audit.flush()
  t.equal(await app.prisma.securityEvent.count({ where: { userId: owner.id, type: 'api_key.revoked' } }), 1)
})

t.test('expires_at: refused in the past, and a key stops working once it passes', async (t) => {
  const user = await plainUser(app)
  const past = await createKey(user.token, { name: 'old', expires_at: new Date(clock.now() - 1000).toISOString() })
  t.equal(past.statusCode, 400)
  const garbage = await createKey(user.token, { name: 'bad', expires_at: 'tomorrow' })
  t.equal(garbage.statusCode, 400)

  const expiresAt = new Date(clock.now() + 3_600_000).toISOString()
  const created = await createKey(user.token, { name: 'short', expires_at: expiresAt })
  t.equal(created.statusCode, 201)
  const { key, expires_at: shown } = created.json() as { key: string, expires_at: string }
  t.equal(shown, expiresAt)
  t.equal((await exchange(key)).statusCode, 200)
  clock.advance(3_600_000)
  const expired = await exchange(key)
  t.equal(expired.statusCode, 401)
  t.equal(expired.body, INVALID_API_KEY_BODY)
  const list = (await app.inject({ method: 'GET', url: '/api-keys', headers: bearer(user.token) })).json() as { api_keys: Array<{ expired: boolean }> }
  t.same(list.api_keys.map(k => k.expired), [true])
})

t.test('unknown, garbled and missing keys all get the same 401', async (t) => {
  const real = generateApiKey()
  const flipped = real.slice(0, 20) + (real[20] === 'a' ? 'b' : 'a') + real.slice(21)
  for (const key of [real, flipped, 'twofold_ak_short', 'nonsense', API_KEY_PREFIX + 'x'.repeat(49)]) {
    const res = await exchange(key)
    t.equal(res.statusCode, 401, key)
    t.equal(res.body, INVALID_API_KEY_BODY)
  }
  t.notOk(isWellFormedApiKey(flipped), 'the checksum catches a typo before any lookup')
  for (const headers of [{}, { authorization: 'Bearer x' }, { authorization: 'ApiKey' }]) {
    const res = await app.inject({ method: 'POST', url: '/token', headers })
    t.equal(res.statusCode, 401)
    t.equal(res.body, INVALID_API_KEY_BODY)
  }
})

t.test('the list never shows a key', async (t) => {
  const user = await plainUser(app)
  const first = await createKey(user.token, { name: 'a' })
  clock.advance(1) // the test clock stands still: without this both keys share a creation time
  const keys = [first, await createKey(user.token, { name: 'b' })].map(r => r.json() as { id: string, key: string })
  const list = await app.inject({ method: 'GET', url: '/api-keys', headers: bearer(user.token) })
  t.equal(list.statusCode, 200)
  for (const { key } of keys) {
    t.notOk(list.body.includes(key), 'not the key')
    t.notOk(list.body.includes(key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + 16)), 'not even part of it')
  }
  const rows = (list.json() as { api_keys: Array<Record<string, unknown>> }).api_keys
  t.same(rows.map(r => r.name), ['b', 'a'], 'newest first')
  t.same(Object.keys(rows[0]!).sort(), ['created_at', 'expired', 'expires_at', 'hint', 'id', 'last_used_at', 'name'])
  t.equal(rows[1]!.hint, `twofold_ak_…${keys[0]!.key.slice(-4)}`)
  const other = await plainUser(app)
  t.same((await app.inject({ method: 'GET', url: '/api-keys', headers: bearer(other.token) })).json(), { api_keys: [] }, "another user's list is their own")
})

t.test('who may create keys', async (t) => {
  t.equal((await app.inject({ method: 'POST', url: '/api-keys', payload: { name: 'x' } })).statusCode, 401, 'no token')

  const tfa = await createTfaUser(app, clock)
  const pwdOnly = app.accessTokens.sign({ sub: tfa.id, username: tfa.username, amr: ['pwd'], sid: randomUUID() }, 600)
  const refused = await createKey(pwdOnly)
  t.equal(refused.statusCode, 403, 'TFA on, token without mfa')
  t.equal(refused.json().error.message, ErrorCatalogue.apiKeyMfaRequired.message)
  const mfaToken = await loginToken(app, { username: tfa.username, password: tfa.password, totp: tfa.code() })
  const created = await createKey(mfaToken)
  t.equal(created.statusCode, 201, 'TFA on, token from a login with the code')

  const { key } = created.json() as { key: string }
  const keyToken = (await exchange(key)).json().access_token as string
  const chained = await createKey(keyToken)
  t.equal(chained.statusCode, 403, 'a token from an API key makes no further keys')
  t.equal(chained.json().error.message, ErrorCatalogue.apiKeyFromApiKey.message)
})

t.test('the database holds no API key in clear', async (t) => {
  const user = await plainUser(app)
  const keys = await Promise.all([1, 2, 3].map(async () => ((await createKey(user.token)).json() as { key: string }).key))
  await exchange(keys[0]!)
  const dump = execFileSync('pg_dump', ['--data-only', databaseUrl], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  t.ok(dump.includes('api_keys'), 'the dump has the api_keys table')
  for (const key of keys) {
    const body = key.slice(API_KEY_PREFIX.length)
    for (const needle of [key, body, body.slice(0, 16), body.slice(16, 32), body.slice(27, 43)]) t.notOk(dump.includes(needle), 'no key, nor part of one')
  }
  const rows = await app.prisma.apiKey.findMany({ where: { userId: user.id }, select: { keyHash: true } })
  t.equal(rows.length, 3)
  for (const row of rows) t.match(row.keyHash, /^[0-9a-f]{64}$/)
})

t.test('/token is rate-limited per client IP', async (t) => {
  const limited = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, RATE_LIMIT_LOGIN_MAX: '3' }), { now: clock.now })
  const key = generateApiKey()
  const statuses = []
  for (let i = 0; i < 5; i++) statuses.push((await limited.inject({ method: 'POST', url: '/token', headers: { authorization: `ApiKey ${key}` } })).statusCode)
  t.same(statuses, [401, 401, 401, 429, 429])
})
