import t from 'tap'
import { generateTotpCode, matchTotpStep } from '../../src/auth/totp.js'
import { ConfigError } from '../../src/config/config.js'
import { ErrorCatalogue, errorBody } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { amrOf, bearer, createTfaUser, INVALID_CREDENTIALS_BODY, INVALID_TOKEN_BODY, login, loginToken, plainUser, randomUsername, STEP_MS, TFA_LOCKED_BODY, TFA_REQUIRED_BODY, UNAUTHENTICATED_BODY, wrongCode, decodeClaims } from '../flows.js'

// The support desk (seeds 000, 003): an administrator from ADMIN_USERNAME + ADMIN_PASSWORD who
// looks users up, resets a lost phone's TFA and unblocks a locked one.
const ADMIN = 'Desk.Admin'
const ADMIN_PASSWORD = 'admin password 1'
const UA = 'support-desk-test/1.0'
const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, ADMIN_USERNAME: ADMIN, ADMIN_PASSWORD }), { now: clock.now })
const adminToken = await loginToken(app, { username: ADMIN, password: ADMIN_PASSWORD })

const ADMIN_REQUIRED_BODY = JSON.stringify(errorBody(403, ErrorCatalogue.adminRequired.message))
const ADMIN_MFA_REQUIRED_BODY = JSON.stringify(errorBody(403, ErrorCatalogue.adminMfaRequired.message))

interface AdminUser {
  id: string
  username: string
  role: 'user' | 'admin'
  created_at: string
  tfa: {
    enabled: boolean
    pending: boolean
    enabled_at: string | null
    devices: Array<{ name: string, type: 'totp' }>
    recovery_codes_left: number
    protected_actions: string[]
    locked: boolean
    locked_for_seconds: number
    failures: number
    lockouts: number
  }
}

const adminGet = async (url: string, token = adminToken) =>
  await app.inject({ method: 'GET', url, headers: { ...bearer(token), 'user-agent': UA } })
const adminPost = async (url: string, token = adminToken) =>
  await app.inject({ method: 'POST', url, headers: { ...bearer(token), 'user-agent': UA } })
const viewOf = async (id: string): Promise<AdminUser> => {
  const res = await adminGet(`/admin/users/${id}`)
  if (res.statusCode !== 200) throw new Error(`GET /admin/users/${id}: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('configuration: ADMIN_USERNAME and ADMIN_PASSWORD go together', async (t) => {
  t.throws(() => testConfig({ ADMIN_USERNAME: 'someone' }), ConfigError, 'username alone')
  t.throws(() => testConfig({ ADMIN_PASSWORD: 'long enough password' }), ConfigError, 'password alone')
  t.throws(() => testConfig({ ADMIN_USERNAME: 'someone' }), /ADMIN_PASSWORD/, 'names the missing variable')
  t.throws(() => testConfig({ ADMIN_PASSWORD: 'long enough password' }), /ADMIN_USERNAME/, 'names the missing variable')
  t.same(testConfig({ ADMIN_USERNAME: 'someone', ADMIN_PASSWORD: 'long enough password' }).bootstrapAdmin, { username: 'someone', password: 'long enough password' })
  t.equal(testConfig().bootstrapAdmin, undefined)
})

t.test('the bootstrap administrator is created at start, lower-cased, with role admin', async (t) => {
  const row = await app.prisma.user.findUnique({ where: { username: ADMIN.toLowerCase() }, select: { role: true, passwordHash: true } })
  t.equal(row?.role, 'admin')
  t.not(row?.passwordHash, ADMIN_PASSWORD, 'the password is stored hashed')
  const res = await login(app, { username: ADMIN, password: ADMIN_PASSWORD })
  t.equal(res.statusCode, 200)
  t.same(amrOf(app, res), ['pwd'])
  t.equal((await adminGet('/admin/users')).statusCode, 200, 'the admin reaches admin routes')
})

t.test('a second start with the same variables changes nothing; a start naming an existing non-admin does not promote them', async (t) => {
  const again = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, ADMIN_USERNAME: ADMIN, ADMIN_PASSWORD: 'another password 2' }), { now: clock.now })
  t.equal(await again.prisma.user.count({ where: { username: ADMIN.toLowerCase() } }), 1, 'no duplicate')
  t.equal((await login(again, { username: ADMIN, password: ADMIN_PASSWORD })).statusCode, 200, 'the original password still works')
  t.equal((await login(again, { username: ADMIN, password: 'another password 2' })).body, INVALID_CREDENTIALS_BODY, 'the new variable does not reset it')

  // Whoever registered the name first must not become administrator by an operator's variable.
  const existing = await plainUser(app)
  const squatted = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, ADMIN_USERNAME: existing.username, ADMIN_PASSWORD: 'ignored password 3' }), { now: clock.now })
  const row = await squatted.prisma.user.findUnique({ where: { id: existing.id }, select: { role: true } })
  t.equal(row?.role, 'user', 'not promoted')
  t.equal((await login(squatted, { username: existing.username, password: 'ignored password 3' })).body, INVALID_CREDENTIALS_BODY, 'password unchanged')
  t.equal((await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(existing.token) })).statusCode, 403)
})

t.test('admin routes: 401 without a token, 403 (the envelope) for a non-admin, on every route', async (t) => {
  const user = await plainUser(app)
  const target = await plainUser(app)
  const routes: Array<['GET' | 'POST', string]> = [
    ['GET', '/admin/users'],
    ['GET', `/admin/users?username=${target.username}`],
    ['GET', `/admin/users/${target.id}`],
    ['POST', `/admin/users/${target.id}/tfa/reset`],
    ['POST', `/admin/users/${target.id}/tfa/unlock`],
    ['GET', `/admin/users/${target.id}/events`]
  ]
  for (const [method, url] of routes) {
    const anonymous = await app.inject({ method, url })
    t.equal(anonymous.statusCode, 401, `${method} ${url} without a token`)
    t.equal(anonymous.body, UNAUTHENTICATED_BODY)
    const forged = await app.inject({ method, url, headers: { authorization: 'Bearer not.a.jwt' } })
    t.equal(forged.statusCode, 401, `${method} ${url} with a garbage token`)
    const res = await app.inject({ method, url, headers: bearer(user.token) })
    t.equal(res.statusCode, 403, `${method} ${url} as a user`)
    t.equal(res.body, ADMIN_REQUIRED_BODY)
  }
  // A non-admin's attempt changed nothing.
  t.equal((await viewOf(target.id)).tfa.enabled, false)
})

t.test('a demoted administrator loses access at once, with the same token', async (t) => {
  const user = await plainUser(app)
  await app.prisma.user.update({ where: { id: user.id }, data: { role: 'admin' } })
  t.equal((await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(user.token) })).statusCode, 200)
  await app.prisma.user.update({ where: { id: user.id }, data: { role: 'user' } })
  const res = await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(user.token) })
  t.equal(res.statusCode, 403)
  t.equal(res.body, ADMIN_REQUIRED_BODY)
})

t.test('unknown id: 404; an id that is not a uuid: 400', async (t) => {
  const unknown = '00000000-0000-4000-8000-000000000000'
  for (const [method, url] of [
    ['GET', `/admin/users/${unknown}`],
    ['POST', `/admin/users/${unknown}/tfa/reset`],
    ['POST', `/admin/users/${unknown}/tfa/unlock`],
    ['GET', `/admin/users/${unknown}/events`]
  ] as const) {
    const res = method === 'GET' ? await adminGet(url) : await adminPost(url)
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.same(res.json(), errorBody(404, 'No user with this id.'))
  }
  for (const [method, url] of [
    ['GET', '/admin/users/not-a-uuid'],
    ['POST', '/admin/users/not-a-uuid/tfa/reset'],
    ['POST', '/admin/users/12345/tfa/unlock'],
    ['GET', '/admin/users/not-a-uuid/events']
  ] as const) {
    const res = method === 'GET' ? await adminGet(url) : await adminPost(url)
    t.equal(res.statusCode, 400, `${method} ${url}`)
    t.equal(res.json().error.code, 400)
    t.equal(res.json().error.identity, null)
  }
})

t.test('find users by exact username (case-insensitive) or by prefix', async (t) => {
  const prefix = `find${randomUsername().slice(1, 7)}`
  const names = [`${prefix}-carol`, `${prefix}-alice`, `${prefix}-bob`]
  const users = []
  for (const name of names) users.push(await plainUser(app, { username: name }))

  const exact = await adminGet(`/admin/users?username=${encodeURIComponent(names[1]!.toUpperCase())}`)
  t.equal(exact.statusCode, 200)
  const found = exact.json().users as AdminUser[]
  t.equal(found.length, 1)
  t.equal(found[0]!.id, users[1]!.id)
  t.equal(found[0]!.username, names[1])
  t.equal(found[0]!.role, 'user')
  t.notOk('password_hash' in found[0]! || 'passwordHash' in found[0]!, 'no hash in the view')

  const byPrefix = await adminGet(`/admin/users?prefix=${prefix}`)
  t.same((byPrefix.json().users as AdminUser[]).map(u => u.username), [...names].sort(), 'every match, alphabetically')
  const limited = await adminGet(`/admin/users?prefix=${prefix}&limit=2`)
  t.same((limited.json().users as AdminUser[]).map(u => u.username), [...names].sort().slice(0, 2))

  t.same((await adminGet('/admin/users?username=nobody-by-this-name')).json(), { users: [] })
  t.equal((await adminGet('/admin/users?limit=0')).statusCode, 400)
  t.equal((await adminGet('/admin/users?limit=101')).statusCode, 400)
  t.equal((await adminGet('/admin/users?unknown=1')).statusCode, 400)
})

t.test('the user view: TFA state, device, recovery codes, lock and failures', async (t) => {
  const plain = await plainUser(app)
  const before = await viewOf(plain.id)
  t.same(before.tfa, {
    enabled: false,
    pending: false,
    enabled_at: null,
    devices: [],
    recovery_codes_left: 0,
    protected_actions: ['login', 'password_change'],
    locked: false,
    locked_for_seconds: 0,
    failures: 0,
    lockouts: 0
  })
  t.equal(before.username, plain.username)
  t.match(before.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

  await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(plain.token) })
  t.equal((await viewOf(plain.id)).tfa.pending, true, 'pending after /tfa/enable')

  const user = await createTfaUser(app, clock)
  await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[0]! })
  for (let i = 0; i < 2; i++) await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  const view = await viewOf(user.id)
  t.equal(view.tfa.enabled, true)
  t.equal(view.tfa.pending, false)
  t.match(view.tfa.enabled_at, /^\d{4}-/)
  t.same(view.tfa.devices, [{ name: 'unnamed', type: 'totp' }])
  t.equal(view.tfa.recovery_codes_left, 9)
  t.equal(view.tfa.failures, 2)
  t.equal(view.tfa.locked, false)
  // Nothing secret in the view.
  t.notMatch(JSON.stringify(view), user.secret)
  for (const code of user.recoveryCodes) t.notMatch(JSON.stringify(view), code)
})

t.test('done when: a reset invalidates the old phone\'s codes immediately', async (t) => {
  const user = await createTfaUser(app, clock)
  // Leave a failure, a used step and a pending state behind, to see them all go.
  await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  t.equal((await login(app, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200)
  clock.advance(STEP_MS)
  t.equal(await app.secondFactor.failures(user.id), 0, 'a right code clears the count')
  await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  t.equal((await viewOf(user.id)).tfa.failures, 1)

  // The stolen phone shows a code that is valid right now.
  const oldCode = user.code()
  t.not(matchTotpStep(user.secret, oldCode, clock.now(), 0), null, 'the old phone\'s code is valid for the clock')

  const reset = await adminPost(`/admin/users/${user.id}/tfa/reset`)
  t.equal(reset.statusCode, 200, reset.body)
  const after = reset.json() as AdminUser
  t.same(after.tfa, {
    enabled: false,
    pending: false,
    enabled_at: null,
    devices: [],
    recovery_codes_left: 0,
    protected_actions: ['login', 'password_change'],
    locked: false,
    locked_for_seconds: 0,
    failures: 0,
    lockouts: 0
  })
  t.same(await viewOf(user.id), after, 'GET agrees')

  // Everything about the factor is gone: secret, recovery codes, counters. The used step stays
  // (issue 17): a login in flight with the last code must still find it spent.
  t.equal(await app.prisma.twoFactor.count({ where: { userId: user.id } }), 0, 'no secret row')
  t.equal(await app.prisma.recoveryCode.count({ where: { userId: user.id } }), 0, 'no recovery codes')
  const left = await app.store.state(user.id)
  t.same({ failures: left.failures, lockedMs: left.lockedMs }, { failures: 0, lockedMs: 0 }, 'no failure count or lock')
  t.ok(left.lastStep > 0, 'the used-step record stays until it expires')

  // The old phone's code, still valid for the clock, is refused right away: with TFA off it is no
  // factor at all. Appended to the password it only makes the password wrong…
  const appended = await login(app, { username: user.username, password: user.password + oldCode })
  t.equal(appended.statusCode, 401)
  t.equal(appended.body, INVALID_CREDENTIALS_BODY, 'appended to the password: refused')
  // The reset ended every session of the user (whoever holds the phone may be logged in).
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(user.token) })).statusCode, 401, 'the token from before the reset is refused')
  const fresh = await loginToken(app, { username: user.username, password: user.password })
  // …and where a code is asked for, there is no factor left to check it against.
  const disable = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(fresh), payload: { totp: oldCode } })
  t.equal(disable.statusCode, 409)
  t.equal(disable.json().error.message, ErrorCatalogue.tfaNotEnabled.message)
  const regen = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(fresh), payload: { totp: oldCode } })
  t.equal(regen.statusCode, 409)

  // The user logs in with the password only: amr ['pwd'], not otp/mfa — the old code proves nothing.
  const plain = await login(app, { username: user.username, password: user.password })
  t.equal(plain.statusCode, 200, plain.body)
  t.same(amrOf(app, plain), ['pwd'])
  const withOldCode = await login(app, { username: user.username, password: user.password, totp: oldCode })
  t.equal(withOldCode.statusCode, 200)
  t.same(amrOf(app, withOldCode), ['pwd'], 'the old code earns no otp/mfa')
  const withOldRecovery = await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[1]! })
  t.same(amrOf(app, withOldRecovery), ['pwd'], 'an old recovery code earns no mfa')

  // Re-enrolment is a new phone: the old secret's code does not validate it.
  const newToken = await loginToken(app, { username: user.username, password: user.password })
  const { secret: newSecret } = (await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(newToken) })).json() as { secret: string }
  t.not(newSecret, user.secret)
  if (matchTotpStep(newSecret, oldCode, clock.now(), 1) === null) {
    const stale = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(newToken), payload: { totp: oldCode } })
    t.equal(stale.statusCode, 400)
    t.equal(stale.body, INVALID_TOKEN_BODY, 'the old phone cannot re-enrol')
  }
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(newToken), payload: { totp: generateTotpCode(newSecret, clock.now()), device_name: 'new phone' } })
  t.equal(validate.statusCode, 200, validate.body)
  clock.advance(STEP_MS)
  const viaNew = await login(app, { username: user.username, password: user.password, totp: generateTotpCode(newSecret, clock.now()) })
  t.equal(viaNew.statusCode, 200)
  t.same(amrOf(app, viaNew), ['pwd', 'otp', 'mfa'])
  if (matchTotpStep(newSecret, user.code(), clock.now(), 1) === null) {
    const oldPhone = await login(app, { username: user.username, password: user.password, totp: user.code() })
    t.equal(oldPhone.body, TFA_REQUIRED_BODY, 'the old phone stays useless after re-enrolment')
  }
  t.same((await viewOf(user.id)).tfa.devices, [{ name: 'new phone', type: 'totp' }])
})

t.test('a reset also removes a pending secret (enable without validate)', async (t) => {
  const user = await plainUser(app)
  const { secret } = (await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(user.token) })).json() as { secret: string }
  t.equal((await viewOf(user.id)).tfa.pending, true)
  const reset = await adminPost(`/admin/users/${user.id}/tfa/reset`)
  t.equal(reset.statusCode, 200)
  t.equal((reset.json() as AdminUser).tfa.pending, false)
  const fresh = await loginToken(app, { username: user.username, password: user.password })
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(fresh), payload: { totp: generateTotpCode(secret, clock.now()) } })
  t.equal(validate.statusCode, 409, 'the pending secret is gone')
  t.equal(validate.json().error.message, ErrorCatalogue.tfaNotPending.message)
  // A reset of a user without TFA is harmless.
  t.equal((await adminPost(`/admin/users/${user.id}/tfa/reset`)).statusCode, 200)
})

t.test('done when: an unlock lets the right code in', async (t) => {
  const user = await createTfaUser(app, clock)
  for (let i = 1; i <= 4; i++) {
    const res = await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
    t.equal(res.body, TFA_REQUIRED_BODY, `wrong code ${i}`)
  }
  const counting = await viewOf(user.id)
  t.equal(counting.tfa.failures, 4, 'the desk sees the failures')
  t.equal(counting.tfa.locked, false)
  const fifth = await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  t.equal(fifth.statusCode, 429, 'the fifth wrong code locks')
  t.equal(fifth.body, TFA_LOCKED_BODY)

  const right = user.code()
  const locked = await login(app, { username: user.username, password: user.password, totp: right })
  t.equal(locked.statusCode, 429, 'locked: even the right code is refused')
  const view = await viewOf(user.id)
  t.equal(view.tfa.locked, true)
  t.ok(view.tfa.locked_for_seconds > 890 && view.tfa.locked_for_seconds <= 900, `locked for ${view.tfa.locked_for_seconds} s`)
  t.equal(view.tfa.lockouts, 1, 'the desk sees the first lockout (the next would last twice as long)')

  const unlock = await adminPost(`/admin/users/${user.id}/tfa/unlock`)
  t.equal(unlock.statusCode, 200, unlock.body)
  const unlocked = unlock.json() as AdminUser
  t.equal(unlocked.tfa.locked, false)
  t.equal(unlocked.tfa.locked_for_seconds, 0)
  t.equal(unlocked.tfa.failures, 0)
  t.equal(unlocked.tfa.lockouts, 0, 'an unlock starts the escalation over')
  t.equal(unlocked.tfa.enabled, true, 'an unlock keeps the factor')
  t.equal(unlocked.tfa.recovery_codes_left, 10)

  // The same right code (the clock has not moved) now gets in: the locked attempt did not spend it.
  const ok = await login(app, { username: user.username, password: user.password, totp: right })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(amrOf(app, ok), ['pwd', 'otp', 'mfa'])
  // …once: the unlock did not forget the used step.
  const replay = await login(app, { username: user.username, password: user.password, totp: right })
  t.equal(replay.body, TFA_REQUIRED_BODY, 'a replay is still refused after the unlock')
  // Unlocking a user who is not locked is harmless.
  t.equal((await adminPost(`/admin/users/${user.id}/tfa/unlock`)).statusCode, 200)
})

t.test('an administrator with TFA on must hold a token that passed it (amr mfa)', async (t) => {
  const admin = await createTfaUser(app, clock)
  await app.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } })
  const target = await plainUser(app)

  // The token from before TFA was switched on has amr ['pwd'].
  t.same(decodeClaims<{ amr: string[] }>(admin.token)?.amr, ['pwd'])
  for (const [method, url] of [
    ['GET', '/admin/users'],
    ['GET', `/admin/users/${target.id}`],
    ['POST', `/admin/users/${target.id}/tfa/reset`],
    ['POST', `/admin/users/${target.id}/tfa/unlock`],
    ['GET', `/admin/users/${target.id}/events`]
  ] as const) {
    const res = await app.inject({ method, url, headers: bearer(admin.token) })
    t.equal(res.statusCode, 403, `${method} ${url} with a pwd-only token`)
    t.equal(res.body, ADMIN_MFA_REQUIRED_BODY)
  }

  // An admin who made login not need a code still cannot use a password-only token here.
  const settings = await app.inject({ method: 'PUT', url: '/tfa/settings', headers: bearer(admin.token), payload: { protected_actions: ['password_change'], totp: admin.code() } })
  t.equal(settings.statusCode, 200, settings.body)
  clock.advance(STEP_MS)
  const pwdOnly = await login(app, { username: admin.username, password: admin.password })
  t.equal(pwdOnly.statusCode, 200)
  t.same(amrOf(app, pwdOnly), ['pwd'])
  const refused = await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(pwdOnly.json().access_token) })
  t.equal(refused.statusCode, 403)
  t.equal(refused.body, ADMIN_MFA_REQUIRED_BODY)
  // Back to a protected login, where the code earns mfa.
  const restore = await app.inject({ method: 'PUT', url: '/tfa/settings', headers: bearer(admin.token), payload: { protected_actions: ['login', 'password_change'], totp: admin.code() } })
  t.equal(restore.statusCode, 200, restore.body)
  clock.advance(STEP_MS)

  // With the code (amr otp+mfa) or a recovery code (amr mfa): allowed.
  const withCode = await login(app, { username: admin.username, password: admin.password, totp: admin.code() })
  t.same(amrOf(app, withCode), ['pwd', 'otp', 'mfa'])
  t.equal((await app.inject({ method: 'GET', url: `/admin/users/${target.id}`, headers: bearer(withCode.json().access_token) })).statusCode, 200)
  const withRecovery = await login(app, { username: admin.username, password: admin.password, recovery_code: admin.recoveryCodes[0]! })
  t.same(amrOf(app, withRecovery), ['pwd', 'mfa'])
  t.equal((await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(withRecovery.json().access_token) })).statusCode, 200)

  // A non-admin's mfa token is still not an admin's.
  const user = await createTfaUser(app, clock)
  const userMfa = await login(app, { username: user.username, password: user.password, totp: user.code() })
  const res = await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(userMfa.json().access_token) })
  t.equal(res.statusCode, 403)
  t.equal(res.body, ADMIN_REQUIRED_BODY)
})

t.test('reset and unlock are in the user\'s audit trail, with the administrator, ip and user agent', async (t) => {
  const user = await createTfaUser(app, clock)
  const adminId = (await app.prisma.user.findUniqueOrThrow({ where: { username: ADMIN.toLowerCase() }, select: { id: true } })).id
  // Events of one millisecond are ordered by id: let each action have its own.
  clock.advance(1)
  t.equal((await adminPost(`/admin/users/${user.id}/tfa/unlock`)).statusCode, 200)
  clock.advance(1)
  t.equal((await adminPost(`/admin/users/${user.id}/tfa/reset`)).statusCode, 200)
  const res = await adminGet(`/admin/users/${user.id}/events`)
  t.equal(res.statusCode, 200)
  const { events, next_cursor: next } = res.json() as { events: Array<{ type: string, ip: string, user_agent: string, detail: Record<string, unknown> }>, next_cursor: string | null }
  t.equal(next, null)
  // The reset also ended the user's sessions, in the same millisecond: that event is checked on its own.
  const adminEvents = events.filter(e => e.type.startsWith('admin.'))
  t.same(adminEvents.slice(0, 2).map(e => e.type), ['admin.tfa_reset', 'admin.tfa_unlocked'], 'newest first')
  const ended = events.find(e => e.type === 'session.ended')
  t.match(ended?.detail, { reason: 'tfa_reset', by: adminId }, 'the reset ended the sessions, and says who did')
  for (const event of adminEvents.slice(0, 2)) {
    t.same(event.detail, { by: adminId }, `${event.type}: by whom`)
    t.equal(event.ip, '127.0.0.1')
    t.equal(event.user_agent, UA)
  }
  t.ok(events.some(e => e.type === 'tfa.enabled'), 'the user\'s own events are there too')
  // The admin's own trail does not get the user's events.
  const own = await adminGet(`/admin/users/${adminId}/events?limit=100`)
  t.notOk((own.json().events as Array<{ type: string }>).some(e => e.type.startsWith('admin.')), 'recorded against the user, not the admin')
})
