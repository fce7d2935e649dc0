import t from 'tap'
import { generateTotpCode } from '../../src/auth/totp.js'
import { ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, DEFAULT_PASSWORD, login, loginToken, plainUser, randomUsername, register } from '../flows.js'

// A leaked API key must not become control of the account, nor of anyone else's: its tokens may
// read their own account and nothing more. Administrators must be who they say they are.
const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })

/** What a key's token may call: its own account, read only (and POST /api-keys and /logout, which explain their refusal). */
const READ_ONLY = new Set(['GET /me', 'GET /tfa', 'GET /tfa/settings', 'GET /tfa/events', 'GET /api-keys'])
const EXPLAINED = new Map<string, keyof typeof ErrorCatalogue>([['POST /api-keys', 'apiKeyFromApiKey'], ['POST /logout', 'noSession']])

async function keyTokenOf (token: string) {
  const created = await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(token), payload: { name: `k${Math.random()}` } })
  const { id, key } = created.json() as { id: string, key: string }
  const exchanged = await app.inject({ method: 'POST', url: '/token', headers: { authorization: `ApiKey ${key}` } })
  return { id, keyToken: (exchanged.json() as { access_token: string }).access_token }
}

t.test('every Bearer route but the read-only ones refuses a token from an API key, and changes nothing', async (t) => {
  const owner = await plainUser(app)
  const { id: keyId, keyToken } = await keyTokenOf(owner.token)
  const { id: otherKeyId } = await keyTokenOf(owner.token)
  const document = app.swagger() as { paths: Record<string, Record<string, { security?: Array<Record<string, unknown>> }>> }
  const bearerRoutes: Array<[string, string]> = []
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (operation.security?.some(s => 'bearerAuth' in s) === true) bearerRoutes.push([method.toUpperCase(), path])
    }
  }
  t.ok(bearerRoutes.length >= 25, `every Bearer route of the document (${bearerRoutes.length})`)
  for (const [method, path] of bearerRoutes) {
    const route = `${method} ${path}`
    // Real ids, so a route that wrongly let the token through would act on something.
    const url = path.replace('{id}', path.startsWith('/api-keys') ? otherKeyId : path.startsWith('/admin') ? owner.id : '00000000-0000-4000-8000-000000000000')
    const res = await app.inject({ method: method as 'GET', url, headers: bearer(keyToken), payload: route === 'POST /api-keys' ? { name: 'the attacker\'s' } : {} })
    if (READ_ONLY.has(route)) {
      t.equal(res.statusCode, 200, `${route}: allowed (read only)`)
    } else if (EXPLAINED.has(route)) {
      t.equal(res.json().error.message, ErrorCatalogue[EXPLAINED.get(route)!].message, `${route}: refused with its reason`)
    } else {
      t.equal(res.statusCode, 403, `${route}: 403`)
      t.equal(res.json().error.message, ErrorCatalogue.apiKeyTokenRefused.message, `${route}: the API-key refusal`)
    }
  }
  // The attack that was found: TFA switched on with the attacker's secret, the owner's other key revoked.
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(owner.token) })).json().pending, false, 'no pending secret was created')
  t.equal(await app.prisma.twoFactor.count({ where: { userId: owner.id } }), 0, 'no factor row at all')
  t.equal(await app.prisma.apiKey.count({ where: { id: { in: [keyId, otherKeyId] } } }), 2, 'both keys still exist')
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(owner.token) })).statusCode, 200, 'the owner\'s session is untouched')
})

t.test('admin routes refuse an administrator\'s API-key token', async (t) => {
  const username = randomUsername()
  await register(app, username, DEFAULT_PASSWORD)
  await app.prisma.user.update({ where: { username }, data: { role: 'admin' } })
  const token = await loginToken(app, { username, password: DEFAULT_PASSWORD })
  t.equal((await app.inject({ method: 'GET', url: '/admin/users?prefix=u', headers: bearer(token) })).statusCode, 200, 'a password login reaches them (TFA not required here)')
  const { keyToken } = await keyTokenOf(token)
  const res = await app.inject({ method: 'GET', url: '/admin/users?prefix=u', headers: bearer(keyToken) })
  t.equal(res.statusCode, 403)
  t.equal(res.json().error.message, ErrorCatalogue.apiKeyTokenRefused.message)
})

t.test('ADMIN_REQUIRE_TFA (default in production): an administrator without TFA is told to enable it', async (t) => {
  const strict = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), ADMIN_REQUIRE_TFA: 'true' }), { now: clock.now })
  t.equal(strict.config.adminRequiresTfa, true)
  const username = randomUsername()
  const user = await register(strict, username, DEFAULT_PASSWORD)
  await strict.prisma.user.update({ where: { username }, data: { role: 'admin' } })
  const token = await loginToken(strict, { username, password: DEFAULT_PASSWORD })
  const refused = await strict.inject({ method: 'GET', url: `/admin/users/${user.id}`, headers: bearer(token) })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().error.message, ErrorCatalogue.adminTfaRequired.message, 'a clear 403: enable TFA')

  // Enrolling is open to them, and then a login with the code gets in.
  const enable = await strict.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  const { secret } = enable.json() as { secret: string }
  t.equal((await strict.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: generateTotpCode(secret, clock.now()) } })).statusCode, 200)
  clock.advance(30_000)
  const withCode = await login(strict, { username, password: DEFAULT_PASSWORD, totp: generateTotpCode(secret, clock.now()) })
  t.equal((await strict.inject({ method: 'GET', url: `/admin/users/${user.id}`, headers: bearer(withCode.json().access_token) })).statusCode, 200, 'with TFA and a code: in')
  const passwordOnly = await strict.inject({ method: 'GET', url: `/admin/users/${user.id}`, headers: bearer(token) })
  t.equal(passwordOnly.statusCode, 403, 'the token from before TFA still does not pass')

  // Off by default outside production.
  t.equal(app.config.adminRequiresTfa, false)
})

t.test('an ordinary user with TFA: a key token still reads, never changes', async (t) => {
  const user = await createTfaUser(app, clock)
  const mfa = await loginToken(app, { username: user.username, password: user.password, totp: user.code() })
  const { keyToken } = await keyTokenOf(mfa)
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(keyToken) })).json().enabled, true)
  const disable = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(keyToken), payload: { recovery_code: user.recoveryCodes[0]! } })
  t.equal(disable.statusCode, 403, 'a key cannot switch TFA off, even with a recovery code')
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(mfa) })).json().recovery_codes_left, 10, 'the recovery code was not spent')
})
