import { createPublicKey, verify } from 'node:crypto'
import t from 'tap'
import { JWKS_MAX_AGE_SECONDS } from '../../src/routes/well-known.js'
import { ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { bearer, decodeClaims, decodeHeader, plainUser } from '../flows.js'

const ISSUER = 'https://auth.example.test'
const SECRET = 'billing-introspection-secret-0123456789'
const app = await buildTestApp(t, testConfig({
  DATABASE_URL: await createTestDatabase(t),
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: 'https://api.example.test,https://billing.example.test',
  INTROSPECTION_CLIENTS: `billing:${SECRET},orders:${'o'.repeat(40)}`
}))
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
const BILLING = { authorization: basic('billing', SECRET) }
const introspect = (token: string, headers: Record<string, string> = BILLING) =>
  app.inject({ method: 'POST', url: '/introspect', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ token }).toString() })

t.test('GET /.well-known/jwks.json: the public keys, cacheable for the rotation procedure', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
  const { keys } = res.json() as { keys: Array<Record<string, string>> }
  t.equal(keys.length, 1)
  t.same(Object.keys(keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x'], 'public members only (no d)')
  t.match(keys[0], { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: app.accessTokens.kid })

  // The published key verifies a login's token, by its kid.
  const user = await plainUser(app)
  const [h, p, s] = user.token.split('.') as [string, string, string]
  const key = keys.find(k => k.kid === decodeHeader(user.token).kid)!
  t.ok(verify(null, Buffer.from(`${h}.${p}`), createPublicKey({ key, format: 'jwk' }), Buffer.from(s, 'base64url')), 'the JWKS key verifies the token')
})

t.test('GET /.well-known/oauth-authorization-server (RFC 8414)', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), {
    issuer: ISSUER,
    jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    token_endpoint: `${ISSUER}/token`,
    introspection_endpoint: `${ISSUER}/introspect`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic']
  })
})

t.test('a login\'s token: RFC 9068 header and claims', async (t) => {
  const user = await plainUser(app)
  t.same(decodeHeader(user.token), { alg: 'EdDSA', typ: 'at+jwt', kid: app.accessTokens.kid })
  const claims = decodeClaims<Record<string, unknown>>(user.token)
  t.match(claims, { iss: ISSUER, sub: user.id, aud: ['https://api.example.test', 'https://billing.example.test'], client_id: 'twofold', amr: ['pwd'], sid: String, jti: String, auth_time: Number })
  t.equal((claims.exp as number) - (claims.iat as number), 900)
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(user.token) })).statusCode, 200)

  // A token of the same key for another deployment (another issuer or audience) is refused here.
  const other = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), JWT_ISSUER: ISSUER, JWT_AUDIENCE: 'https://elsewhere.test' }))
  const foreign = await plainUser(other)
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(foreign.token) })).statusCode, 401, 'a token of another key')
})

t.test('an API key\'s token names the key as client_id', async (t) => {
  const user = await plainUser(app)
  const created = await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(user.token), payload: { name: 'ci' } })
  const { id, key } = created.json() as { id: string, key: string }
  const exchanged = await app.inject({ method: 'POST', url: '/token', headers: { authorization: `ApiKey ${key}` } })
  const token = (exchanged.json() as { access_token: string }).access_token
  t.match(decodeClaims(token), { client_id: id, amr: ['api_key'], auth_time: Number })
  const res = await introspect(token)
  t.match(res.json(), { active: true, client_id: id, sub: user.id })
  t.notOk('sid' in res.json(), 'no session')
  await app.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: bearer(user.token) })
  t.same((await introspect(token)).json(), { active: false }, 'inactive once the key is revoked')
})

t.test('POST /introspect: callers authenticate', async (t) => {
  const user = await plainUser(app)
  const refused = async (name: string, headers: Record<string, string>) => {
    const res = await introspect(user.token, headers)
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().error.message, ErrorCatalogue.invalidClient.message, name)
    t.match(res.headers['www-authenticate'], /^Basic realm=/, `${name}: says how to authenticate`)
  }
  await refused('no credentials', {})
  await refused('wrong secret', { authorization: basic('billing', SECRET.slice(0, -1) + 'x') })
  await refused('unknown client', { authorization: basic('nobody', SECRET) })
  await refused('another client\'s secret', { authorization: basic('orders', SECRET) })
  await refused('a Bearer token instead', bearer(user.token))
  await refused('no colon', { authorization: `Basic ${Buffer.from('billing').toString('base64')}` })
  const unauthenticatedBadBody = await app.inject({ method: 'POST', url: '/introspect', payload: {} })
  t.equal(unauthenticatedBadBody.statusCode, 401, 'authentication comes before the body is looked at')
  t.equal((await introspect(user.token, { authorization: basic('orders', 'o'.repeat(40)) })).json().active, true, 'the other client works')
  t.equal((await introspect(user.token, { authorization: `basic ${Buffer.from(`billing:${encodeURIComponent(SECRET)}`).toString('base64')}` })).json().active, true, 'form-encoded id and secret (RFC 6749 §2.3.1), scheme in any case')
})

t.test('POST /introspect: active tokens and their claims, inactive for everything else', async (t) => {
  const user = await plainUser(app)
  const res = await introspect(user.token)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const claims = decodeClaims<Record<string, unknown>>(user.token)
  t.same(res.json(), {
    active: true,
    sub: user.id,
    username: user.username,
    exp: claims.exp,
    iat: claims.iat,
    auth_time: claims.auth_time,
    sid: claims.sid,
    amr: ['pwd'],
    client_id: 'twofold',
    token_type: 'Bearer',
    iss: ISSUER,
    aud: ['https://api.example.test', 'https://billing.example.test'],
    jti: claims.jti
  })
  const json = await app.inject({ method: 'POST', url: '/introspect', headers: BILLING, payload: { token: user.token, token_type_hint: 'access_token' } })
  t.same(json.json(), res.json(), 'JSON works as form-encoded does')

  const [h, p, s] = user.token.split('.') as [string, string, string]
  const inactive = async (name: string, token: string) => {
    const r = await introspect(token)
    t.equal(r.statusCode, 200, name)
    t.same(r.json(), { active: false }, name)
  }
  await inactive('tampered', `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone' })).toString('base64url')}.${s}`)
  await inactive('alg none', `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${p}.`)
  await inactive('malformed', 'not-a-token')
  await inactive('empty', '')
  await inactive('expired', app.accessTokens.sign({ sub: user.id, username: user.username, amr: ['pwd'], sid: claims.sid as string }, 10, Math.floor(Date.now() / 1000) - 60))
  const other = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), JWT_ISSUER: ISSUER }))
  await inactive('unknown (another deployment\'s key)', (await plainUser(other)).token)

  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(user.token) })).statusCode, 204)
  await inactive('after logout', user.token)
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(user.token) })).statusCode, 401, 'and refused by twofold itself')
})

t.test('POST /introspect: input', async (t) => {
  const form = (payload: string) => app.inject({ method: 'POST', url: '/introspect', headers: { ...BILLING, 'content-type': 'application/x-www-form-urlencoded' }, payload })
  t.equal((await form('')).statusCode, 400, 'no token')
  t.equal((await form('token=a&token=b')).statusCode, 400, 'a parameter twice (RFC 6749 §3.2)')
  t.equal((await app.inject({ method: 'POST', url: '/introspect', headers: { ...BILLING, 'content-type': 'text/plain' }, payload: 'token=x' })).statusCode, 415)
  t.equal((await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=a&password=b' })).statusCode, 415, 'forms only reach /introspect')
})

t.test('POST /introspect is rate limited per address', async (t) => {
  const limited = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), INTROSPECTION_CLIENTS: `rs:${SECRET}`, RATE_LIMIT_INTROSPECT_MAX: '3' }))
  const call = () => limited.inject({ method: 'POST', url: '/introspect', headers: { authorization: basic('rs', 'wrong'.repeat(8)) }, payload: { token: 'x' } })
  const statuses = []
  for (let i = 0; i < 5; i++) statuses.push((await call()).statusCode)
  t.same(statuses, [401, 401, 401, 429, 429], 'failed authentications count too')
  const res = await call()
  t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After')
})

t.test('POST /introspect: an enrolment-only token says its scope', async (t) => {
  const mandatory = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED: 'true', INTROSPECTION_CLIENTS: `rs:${SECRET}` }))
  const user = await plainUser(mandatory)
  t.equal(decodeClaims<{ scope?: string }>(user.token).scope, 'tfa:enroll')
  const res = await mandatory.inject({ method: 'POST', url: '/introspect', headers: { authorization: basic('rs', SECRET) }, payload: { token: user.token } })
  t.match(res.json(), { active: true, scope: 'tfa:enroll', client_id: 'twofold' })
})

t.test('ES256: the same through the API, a P-256 key in the JWKS', async (t) => {
  const es = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), JWT_ALGORITHM: 'ES256', INTROSPECTION_CLIENTS: `rs:${SECRET}` }))
  const user = await plainUser(es)
  t.same(decodeHeader(user.token), { alg: 'ES256', typ: 'at+jwt', kid: es.accessTokens.kid })
  t.equal((await es.inject({ method: 'GET', url: '/me', headers: bearer(user.token) })).statusCode, 200)
  const { keys } = (await es.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<Record<string, string>> }
  t.match(keys, [{ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', x: String, y: String }])
  const [h, p, s] = user.token.split('.') as [string, string, string]
  t.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: keys[0]!, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')), 'the JWKS key verifies the token')
  t.equal((await es.inject({ method: 'POST', url: '/introspect', headers: { authorization: basic('rs', SECRET) }, payload: { token: user.token } })).json().active, true)
})
