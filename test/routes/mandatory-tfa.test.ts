import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../../src/app.js'
import { generateTotpCode } from '../../src/auth/totp.js'
import { ErrorCatalogue, errorBody } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { amrOf, bearer, createTfaUser, login, randomUsername, register, STEP_MS, TFA_REQUIRED_BODY, decodeClaims } from '../flows.js'

/** A login's answer without reminder or scope: the token and its session. */
// device_cookie: every login's, for the per-username rate limit (test/security/device-cookies.test.ts).
const PLAIN_LOGIN_KEYS = ['access_token', 'device_cookie', 'expires_in', 'refresh_expires_in', 'refresh_token', 'session_id', 'token_type']

// Seed 003: TFA becomes mandatory on a date. Before it, users without TFA are reminded; from it,
// they get a token that only lets them enrol. app.now (the TestClock) decides which side we are on.
const REQUIRED_FROM = '2031-03-01'
const FROM_MS = Date.parse(`${REQUIRED_FROM}T00:00:00Z`)
const DAY_MS = 86_400_000
const PASSWORD = 'correct horse battery'
const ENROLLMENT_REQUIRED_BODY = JSON.stringify(errorBody(403, ErrorCatalogue.enrollmentRequired.message))

const clock = new TestClock(FROM_MS - 10 * DAY_MS)
const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED: 'true', TFA_REQUIRED_FROM: REQUIRED_FROM }), { now: clock.now })

interface TokenBody { access_token: string, token_type: string, expires_in: number, scope?: string, tfa_enrollment_required?: boolean, tfa_reminder?: string }
const claimsOf = (instance: App, res: LightMyRequestResponse) =>
  decodeClaims<{ sub: string, amr: string[], scope?: string }>((res.json() as TokenBody).access_token)!

/** Every protected route outside the enrolment set, with a body it would accept. */
function otherRoutes (userId: string): Array<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: Record<string, unknown> }> {
  return [
    { method: 'POST', url: '/tfa/recovery-codes', payload: { totp: '123456' } },
    { method: 'POST', url: '/tfa/disable', payload: { totp: '123456' } },
    { method: 'PATCH', url: '/tfa', payload: { device_name: 'phone' } },
    { method: 'GET', url: '/tfa/settings' },
    { method: 'PUT', url: '/tfa/settings', payload: { protected_actions: ['login', 'password_change'] } },
    { method: 'GET', url: '/tfa/events' },
    { method: 'POST', url: '/password', payload: { current_password: PASSWORD, new_password: 'a brand new password' } },
    { method: 'GET', url: '/admin/users' },
    { method: 'GET', url: `/admin/users/${userId}` },
    { method: 'POST', url: `/admin/users/${userId}/tfa/reset` },
    { method: 'POST', url: `/admin/users/${userId}/tfa/unlock` },
    { method: 'GET', url: `/admin/users/${userId}/events` }
  ]
}

async function assertEnrolmentOnly (t: Tap, instance: App, token: string, userId: string) {
  for (const { method, url, payload } of otherRoutes(userId)) {
    const res = await instance.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) })
    t.equal(res.statusCode, 403, `${method} ${url}: 403`)
    t.equal(res.body, ENROLLMENT_REQUIRED_BODY, `${method} ${url}: the enrollmentRequired envelope`)
  }
}
interface Tap { equal: (found: unknown, wanted: unknown, message: string) => boolean }

t.test('before TFA_REQUIRED_FROM: a user without TFA gets a normal token and a reminder', async (t) => {
  clock.ms = FROM_MS - 10 * DAY_MS
  const user = await register(app, randomUsername(), PASSWORD)
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.statusCode, 200)
  const body = res.json() as TokenBody
  t.match(body.tfa_reminder, /2031-03-01/, 'the reminder names the day')
  t.match(body.tfa_reminder, /\/tfa\/enable/)
  t.equal(body.scope, undefined, 'no scope')
  t.equal(body.tfa_enrollment_required, undefined)
  t.equal(claimsOf(app, res).scope, undefined, 'no scope in the token')
  t.same(amrOf(app, res), ['pwd'])
  // A normal token: routes outside the enrolment set work.
  const settings = await app.inject({ method: 'GET', url: '/tfa/settings', headers: bearer(body.access_token) })
  t.equal(settings.statusCode, 200)
  const events = await app.inject({ method: 'GET', url: '/tfa/events', headers: bearer(body.access_token) })
  t.equal(events.statusCode, 200)
  const password = await app.inject({ method: 'POST', url: '/password', headers: bearer(body.access_token), payload: { current_password: PASSWORD, new_password: PASSWORD } })
  t.equal(password.statusCode, 204)

  // Still a reminder one millisecond before the day starts.
  clock.ms = FROM_MS - 1
  const lastMoment = await login(app, { username: user.username, password: user.password })
  t.type((lastMoment.json() as TokenBody).tfa_reminder, 'string')
  t.equal((lastMoment.json() as TokenBody).scope, undefined)
})

t.test('from TFA_REQUIRED_FROM: an enrolment-only token', async (t) => {
  clock.ms = FROM_MS
  const user = await register(app, randomUsername(), PASSWORD)
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.statusCode, 200)
  const body = res.json() as TokenBody
  t.equal(body.tfa_enrollment_required, true)
  t.equal(body.scope, 'tfa:enroll')
  t.equal(body.token_type, 'Bearer')
  t.equal(body.tfa_reminder, undefined, 'no reminder once it is mandatory')
  const claims = claimsOf(app, res)
  t.equal(claims.scope, 'tfa:enroll', 'the scope is in the token itself')
  t.equal(claims.sub, user.id)
  t.same(claims.amr, ['pwd'])

  clock.ms = FROM_MS + 400 * DAY_MS
  const later = await login(app, { username: user.username, password: user.password })
  t.equal((later.json() as TokenBody).scope, 'tfa:enroll', 'and ever after')
  // The wrong password is still the plain 401.
  const wrong = await login(app, { username: user.username, password: 'wrong password' })
  t.equal(wrong.statusCode, 401)
})

t.test('done when: the enrolment-only token can\'t reach other routes, only enrolment', async (t) => {
  clock.ms = FROM_MS + DAY_MS
  const user = await register(app, randomUsername(), PASSWORD)
  const token = (await login(app, { username: user.username, password: user.password })).json().access_token as string

  // Refused everywhere else, before anything happens: the password was not changed.
  await assertEnrolmentOnly(t, app, token, user.id)
  t.equal((await login(app, { username: user.username, password: 'a brand new password' })).statusCode, 401, 'POST /password did nothing')

  // The enrolment set works.
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
  t.equal(me.statusCode, 200)
  t.same(me.json(), { id: user.id, username: user.username })
  const status = await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })
  t.equal(status.statusCode, 200)
  t.same(status.json(), { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  t.equal(enable.statusCode, 200, enable.body)
  const { secret } = enable.json() as { secret: string }
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json().pending, true)
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: generateTotpCode(secret, clock.now()), device_name: 'work phone' } })
  t.equal(validate.statusCode, 200, validate.body)
  t.equal(validate.json().recovery_codes.length, 10)
  t.same((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json(), { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'work phone', recovery_codes_left: 10 })

  // The enrolment token stays what it is: the user must log in again.
  const stillLimited = await app.inject({ method: 'GET', url: '/tfa/settings', headers: bearer(token) })
  t.equal(stillLimited.statusCode, 403)
  t.equal(stillLimited.body, ENROLLMENT_REQUIRED_BODY)

  // A new login needs the code now, and gives a full token.
  const passwordOnly = await login(app, { username: user.username, password: user.password })
  t.equal(passwordOnly.statusCode, 401)
  t.equal(passwordOnly.body, TFA_REQUIRED_BODY)
  clock.advance(STEP_MS)
  const full = await login(app, { username: user.username, password: user.password, totp: generateTotpCode(secret, clock.now()) })
  t.equal(full.statusCode, 200, full.body)
  const fullBody = full.json() as TokenBody
  t.equal(fullBody.scope, undefined)
  t.equal(fullBody.tfa_enrollment_required, undefined)
  t.equal(fullBody.tfa_reminder, undefined)
  t.equal(claimsOf(app, full).scope, undefined)
  t.same(amrOf(app, full), ['pwd', 'otp', 'mfa'])
  for (const url of ['/tfa/settings', '/tfa/events']) {
    t.equal((await app.inject({ method: 'GET', url, headers: bearer(fullBody.access_token) })).statusCode, 200, `GET ${url} with the full token`)
  }
  const rename = await app.inject({ method: 'PATCH', url: '/tfa', headers: bearer(fullBody.access_token), payload: { device_name: 'renamed' } })
  t.equal(rename.statusCode, 200)
})

t.test('an administrator without TFA is no exception: enrolment only, admin routes 403', async (t) => {
  clock.ms = FROM_MS + DAY_MS
  const admin = await register(app, randomUsername(), PASSWORD)
  await app.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } })
  const res = await login(app, { username: admin.username, password: admin.password })
  t.equal((res.json() as TokenBody).scope, 'tfa:enroll')
  await assertEnrolmentOnly(t, app, (res.json() as TokenBody).access_token, admin.id)
})

t.test('users with TFA on are unaffected, before and after the date', async (t) => {
  clock.ms = FROM_MS - DAY_MS
  const user = await createTfaUser(app, clock)
  const before = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(before.statusCode, 200)
  t.same(Object.keys(before.json()).sort(), PLAIN_LOGIN_KEYS, 'no reminder, no scope')
  t.same(amrOf(app, before), ['pwd', 'otp', 'mfa'])

  clock.ms = FROM_MS + DAY_MS
  const after = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(after.statusCode, 200)
  t.same(Object.keys(after.json()).sort(), PLAIN_LOGIN_KEYS)
  t.equal(claimsOf(app, after).scope, undefined)
  t.equal((await app.inject({ method: 'GET', url: '/tfa/settings', headers: bearer(after.json().access_token) })).statusCode, 200)
  // …and still need their code.
  t.equal((await login(app, { username: user.username, password: user.password })).body, TFA_REQUIRED_BODY)
  const recovery = await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[0]! })
  t.equal(recovery.statusCode, 200)
  t.equal((recovery.json() as TokenBody).scope, undefined)
})

t.test('a user whose TFA was disabled or reset falls back to enrolment only', async (t) => {
  clock.ms = FROM_MS + DAY_MS
  const user = await createTfaUser(app, clock)
  const full = await login(app, { username: user.username, password: user.password, totp: user.code() })
  clock.advance(STEP_MS)
  const disable = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(full.json().access_token), payload: { totp: user.code() } })
  t.equal(disable.statusCode, 200)
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.statusCode, 200)
  t.equal((res.json() as TokenBody).tfa_enrollment_required, true)
  t.equal((res.json() as TokenBody).scope, 'tfa:enroll')
})

t.test('with TFA mandatory, "login" cannot be removed from the protected actions', async (t) => {
  clock.ms = FROM_MS + DAY_MS
  const user = await createTfaUser(app, clock)
  const token = (await login(app, { username: user.username, password: user.password, totp: user.code() })).json().access_token as string
  clock.advance(STEP_MS)
  for (const actions of [['password_change'], []]) {
    const res = await app.inject({ method: 'PUT', url: '/tfa/settings', headers: bearer(token), payload: { protected_actions: actions, totp: user.code() } })
    t.equal(res.statusCode, 400, `protected_actions ${JSON.stringify(actions)}`)
    t.same(res.json(), errorBody(400, ErrorCatalogue.loginMustStayProtected.message))
  }
  // Refused before the code is looked at: the code was not spent.
  const ok = await app.inject({ method: 'PUT', url: '/tfa/settings', headers: bearer(token), payload: { protected_actions: ['login'], totp: user.code() } })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json().protected_actions, ['login'])
  t.same((await app.inject({ method: 'GET', url: '/tfa/settings', headers: bearer(token) })).json().protected_actions, ['login'])
  t.equal((await login(app, { username: user.username, password: user.password })).body, TFA_REQUIRED_BODY, 'login still needs the code')
})

t.test('TFA_REQUIRED without a date: mandatory at once', async (t) => {
  const now = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED: 'true' }), { now: clock.now })
  t.equal(now.config.tfa.requiredFrom, undefined)
  clock.ms = Date.now()
  const user = await register(now, randomUsername(), PASSWORD)
  const res = await login(now, { username: user.username, password: user.password })
  t.equal(res.statusCode, 200)
  const body = res.json() as TokenBody
  t.equal(body.tfa_enrollment_required, true)
  t.equal(body.scope, 'tfa:enroll')
  t.equal(body.tfa_reminder, undefined)
  t.equal(claimsOf(now, res).scope, 'tfa:enroll')
  await assertEnrolmentOnly(t, now, body.access_token, user.id)
  t.equal((await now.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(body.access_token) })).statusCode, 200)
})

t.test('without TFA_REQUIRED, a date alone changes nothing', async (t) => {
  const optional = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED_FROM: REQUIRED_FROM }), { now: clock.now })
  const user = await register(optional, randomUsername(), PASSWORD)
  for (const ms of [FROM_MS - DAY_MS, FROM_MS + DAY_MS]) {
    clock.ms = ms
    const res = await login(optional, { username: user.username, password: user.password })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json()).sort(), PLAIN_LOGIN_KEYS, new Date(ms).toISOString())
  }
})

t.test('mandatory TFA overrides a login left unprotected before it became mandatory', async (t) => {
  const user = await createTfaUser(app, clock, { password: PASSWORD })
  // As if saved while TFA was still optional (the settings route now refuses it).
  await app.prisma.user.update({ where: { id: user.id }, data: { protectedActions: ['password_change'] } })
  t.equal((await login(app, { username: user.username, password: PASSWORD })).body, TFA_REQUIRED_BODY, 'the password alone is not enough')
  const res = await login(app, { username: user.username, password: PASSWORD + user.code() })
  t.equal(res.statusCode, 200)
  t.same(amrOf(app, res), ['pwd', 'otp', 'mfa'])
})
