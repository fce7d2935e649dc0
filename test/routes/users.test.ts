import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { bearer, decodeClaims, plainUser, register } from '../flows.js'

const JWT_SECRET = randomBytes(32).toString('base64')
// HS256 here (today's behaviour, kept for deployments that depend on it): the hand-made tokens
// below are signed with the shared secret. The asymmetric default is tested in test/auth/.
// Cost 8: slow enough that a skipped hash shows in the timing test, fast enough for a suite.
const app = await buildTestApp(t, testConfig({ JWT_ALGORITHM: 'HS256', JWT_SECRET, BCRYPT_COST: '8', DATABASE_URL: await createTestDatabase(t) }))

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/users', payload: payload as Record<string, unknown> })
const login = (username: string, password: string) => app.inject({ method: 'POST', url: '/login', payload: { username, password } })

function hs256 (header: object, payload: object, secret: string | Buffer): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const signingInput = `${part(header)}.${part(payload)}`
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

t.test('POST /users creates a user: 201 {id, username}', async (t) => {
  const res = await post({ username: 'Alice.Example@host-1_x', password: 'correct horse' })
  t.equal(res.statusCode, 201)
  const body = res.json() as { id: string, username: string }
  t.same(Object.keys(body).sort(), ['id', 'username'])
  t.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.equal(body.username, 'alice.example@host-1_x', 'stored lower-case')
  t.notMatch(res.body, 'correct horse')
  const row = await app.prisma.user.findUniqueOrThrow({ where: { id: body.id } })
  t.not(row.passwordHash, 'correct horse', 'the password is not stored')
  t.match(row.passwordHash, /^\$2[aby]\$08\$/, 'a bcrypt hash at the configured cost')
})

t.test('username rules: 1-64 of [A-Za-z0-9._@-]', async (t) => {
  t.equal((await post({ username: 'a', password: 'correct horse' })).statusCode, 201, 'one character')
  t.equal((await post({ username: 'b'.repeat(64), password: 'correct horse' })).statusCode, 201, '64 characters')
  for (const username of ['', 'c'.repeat(65), 'with space', 'josé', 'é', 'semi;colon', 'slash/', 'tab\t', 'new\nline', 'ａ']) {
    const res = await post({ username, password: 'correct horse' })
    t.equal(res.statusCode, 400, `${JSON.stringify(username)} refused`)
    t.equal((res.json() as { error: { code: number } }).error.code, 400)
  }
  for (const username of [42, null, ['x'], { a: 1 }]) {
    t.equal((await post({ username, password: 'correct horse' })).statusCode, 400, `${JSON.stringify(username)} refused`)
  }
})

t.test('password: 8 to 72 bytes of UTF-8', async (t) => {
  t.equal((await post({ username: 'p72', password: 'a'.repeat(72) })).statusCode, 201, '72 ASCII bytes')
  const tooLong = await post({ username: 'p73', password: 'a'.repeat(73) })
  t.equal(tooLong.statusCode, 400, '73 bytes refused')
  t.equal((tooLong.json() as { error: { message: string } }).error.message, ErrorCatalogue.passwordTooLong.message)

  t.equal(Buffer.byteLength('€'.repeat(24)), 72)
  t.equal((await post({ username: 'euro24', password: '€'.repeat(24) })).statusCode, 201, '24 euro signs = 72 bytes')
  const euro25 = await post({ username: 'euro25', password: '€'.repeat(25) })
  t.equal(euro25.statusCode, 400, '25 euro signs = 75 bytes (only 25 characters) refused')
  t.equal((euro25.json() as { error: { message: string } }).error.message, ErrorCatalogue.passwordTooLong.message)
  // 71 ASCII + one 2-byte character: 72 characters but 73 bytes.
  t.equal((await post({ username: 'mixed73', password: 'a'.repeat(71) + 'é' })).statusCode, 400)

  t.equal((await post({ username: 'p7', password: 'a'.repeat(7) })).statusCode, 400, '7 bytes refused')
  t.equal((await post({ username: 'p8', password: 'a'.repeat(8) })).statusCode, 201, '8 bytes accepted')
  // 4 characters, 8 bytes: the minimum is in bytes too.
  t.equal((await post({ username: 'p4x2', password: 'éééé' })).statusCode, 201)
  for (const password of [12345678, null, undefined]) {
    t.equal((await post({ username: 'ptype', password })).statusCode, 400, `${String(password)} refused`)
  }
  t.equal(await app.prisma.user.count({ where: { username: { in: ['p73', 'euro25', 'mixed73', 'p7', 'ptype'] } } }), 0, 'no refused user was created')
})

t.test('no silent truncation at 72 bytes', async (t) => {
  const password = 'x'.repeat(60) + 'abcdefghijkl'
  t.equal(Buffer.byteLength(password), 72)
  await register(app, 'truncation', password)
  t.equal((await login('truncation', password)).statusCode, 200, 'the exact password works')
  for (const suffix of ['!', 'more characters', '123456', '€']) {
    const res = await login('truncation', password + suffix)
    t.equal(res.statusCode, 401, `password + ${JSON.stringify(suffix)} refused`)
    t.equal((res.json() as { error: { message: string } }).error.message, ErrorCatalogue.invalidCredentials.message)
  }
  t.equal((await login('truncation', password.slice(0, 71))).statusCode, 401, 'one byte short refused')

  await register(app, 'eurotrunc', '€'.repeat(24))
  t.equal((await login('eurotrunc', '€'.repeat(24))).statusCode, 200)
  t.equal((await login('eurotrunc', '€'.repeat(25))).statusCode, 401)
})

t.test('usernames are case-insensitive at login', async (t) => {
  await register(app, 'CaseUser', 'correct horse')
  t.equal((await login('caseuser', 'correct horse')).statusCode, 200)
  t.equal((await login('CASEUSER', 'correct horse')).statusCode, 200)
  t.equal((await login('caseuser', 'Correct horse')).statusCode, 401, 'the password is case-sensitive')
})

t.test('wrong password and unknown user: same body, similar time', async (t) => {
  await register(app, 'timing', 'correct horse')
  const wrong = await login('timing', 'wrong horse')
  const unknown = await login('no-such-user', 'wrong horse')
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.equal(wrong.body, unknown.body, 'byte-identical bodies')
  t.equal(wrong.body, JSON.stringify({ error: { message: ErrorCatalogue.invalidCredentials.message, code: 401, identity: null, title: 'Unauthorized' } }))

  const time = async (username: string) => {
    const start = process.hrtime.bigint()
    const res = await login(username, 'wrong horse')
    t.equal(res.statusCode, 401)
    return Number(process.hrtime.bigint() - start) / 1e6
  }
  const known: number[] = []
  const missing: number[] = []
  for (let i = 0; i < 10; i++) {
    known.push(await time('timing'))
    missing.push(await time(`missing-${i}`))
  }
  const [k, m] = [median(known), median(missing)]
  t.comment(`median ms: known ${k.toFixed(1)}, unknown ${m.toFixed(1)}`)
  t.ok(m > k / 3 && m < k * 3, `medians within a factor of 3 (known ${k.toFixed(1)} ms, unknown ${m.toFixed(1)} ms)`)
})

t.test('GET /me', async (t) => {
  const user = await plainUser(app, { username: 'meuser', password: 'correct horse' })
  const { token } = user
  const res = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { id: user.id, username: 'meuser' })
  t.same(Object.keys(res.json() as object), ['id', 'username'], 'nothing else (no hash)')

  const refused = async (name: string, authorization: string) => {
    const r = await app.inject({ method: 'GET', url: '/me', headers: { authorization } })
    t.equal(r.statusCode, 401, name)
    t.equal((r.json() as { error: { message: string } }).error.message, ErrorCatalogue.unauthenticated.message, name)
  }
  const now = Math.floor(Date.now() / 1000)
  const { issuer } = app.config.jwt
  const { sid } = decodeClaims<{ sid: string }>(token)
  const claims = { sub: user.id, username: user.username, amr: ['pwd'], iss: issuer, aud: issuer, iat: now, exp: now + 600, jti: randomUUID(), client_id: 'twofold', sid }
  const hsHeader = { alg: 'HS256', typ: 'at+jwt', kid: 'hs256' }
  // Sanity check of the hand-made tokens: the same construction with the right secret works.
  const good = await app.inject({ method: 'GET', url: '/me', headers: bearer(hs256(hsHeader, claims, JWT_SECRET)) })
  t.equal(good.statusCode, 200, 'a hand-signed token with the right secret is accepted')
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(hs256({ ...hsHeader, typ: 'application/AT+JWT' }, claims, JWT_SECRET)) })).statusCode, 200, 'typ with the media type prefix, any case (RFC 9068 §4)')

  await refused('another secret', `Bearer ${hs256(hsHeader, claims, randomBytes(32).toString('base64'))}`)
  await refused('expired', `Bearer ${hs256(hsHeader, { ...claims, iat: now - 1000, exp: now - 10 }, JWT_SECRET)}`)
  await refused('expired (signed by the app)', `Bearer ${app.accessTokens.sign({ sub: user.id, username: user.username, amr: ['pwd'], sid }, 1, now - 100)}`)
  await refused('typ JWT (not an access token)', `Bearer ${hs256({ ...hsHeader, typ: 'JWT' }, claims, JWT_SECRET)}`)
  await refused('no typ', `Bearer ${hs256({ alg: 'HS256', kid: 'hs256' }, claims, JWT_SECRET)}`)
  await refused('no kid', `Bearer ${hs256({ alg: 'HS256', typ: 'at+jwt' }, claims, JWT_SECRET)}`)
  await refused('unknown kid', `Bearer ${hs256({ ...hsHeader, kid: 'other' }, claims, JWT_SECRET)}`)
  await refused('another audience', `Bearer ${hs256(hsHeader, { ...claims, aud: 'https://elsewhere.example' }, JWT_SECRET)}`)
  await refused('no audience', `Bearer ${hs256(hsHeader, { ...claims, aud: undefined }, JWT_SECRET)}`)
  await refused('neither session nor API key', `Bearer ${hs256(hsHeader, { ...claims, sid: undefined }, JWT_SECRET)}`)
  await refused('no jti', `Bearer ${hs256(hsHeader, { ...claims, jti: undefined }, JWT_SECRET)}`)
  await refused('no client_id', `Bearer ${hs256(hsHeader, { ...claims, client_id: undefined }, JWT_SECRET)}`)
  await refused('a critical header', `Bearer ${hs256({ ...hsHeader, crit: ['exp'] }, claims, JWT_SECRET)}`)
  const noneToken = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'hs256' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
  await refused('alg none', `Bearer ${noneToken}`)
  await refused('alg none, with a signature', `Bearer ${noneToken}${createHmac('sha256', JWT_SECRET).update('x').digest('base64url')}`)
  await refused('HS512 with the right secret', `Bearer ${(() => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const input = `${part({ ...hsHeader, alg: 'HS512' })}.${part(claims)}`
    return `${input}.${createHmac('sha512', JWT_SECRET).update(input).digest('base64url')}`
  })()}`)
  await refused('another issuer', `Bearer ${hs256(hsHeader, { ...claims, iss: 'someone-else' }, JWT_SECRET)}`)
  await refused('no issuer', `Bearer ${hs256(hsHeader, { ...claims, iss: undefined }, JWT_SECRET)}`)
  await refused('no expiry', `Bearer ${hs256(hsHeader, { ...claims, exp: undefined }, JWT_SECRET)}`)
  await refused('tampered payload', `Bearer ${token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: randomBytes(16).toString('hex') })).toString('base64url')}.${token.split('.')[2]}`)
  await refused('no scheme', token)
  await refused('garbage', 'Bearer not.a.jwt')

  // Verified tokens are remembered: a remembered one must still expire, and its signature must
  // still be the one that verified.
  const shortLived = app.accessTokens.sign({ sub: user.id, username: user.username, amr: ['pwd'], sid }, 2)
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(shortLived) })).statusCode, 200, 'a short-lived token works (and is remembered)')
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `bearer ${shortLived}` } })).statusCode, 200, 'the scheme is case-insensitive')
  const [head, body, signature] = shortLived.split('.') as [string, string, string]
  await refused('a remembered token with another signature', `Bearer ${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`)
  await refused('a remembered token\'s claims with another payload', `Bearer ${head}.${Buffer.from(JSON.stringify({ ...claims, sub: randomBytes(16).toString('hex') })).toString('base64url')}.${signature}`)
  await new Promise(resolve => setTimeout(resolve, 3100))
  await refused('a remembered token after it expired', `Bearer ${shortLived}`)
})
