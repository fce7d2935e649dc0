import t from 'tap'
import { ErrorCatalogue, errorBody } from '../../src/errors.js'
import { buildTestApp, TestClock } from '../helper.js'
import { amrOf, bearer, createTfaUser, DEFAULT_PASSWORD as PASSWORD, INVALID_CREDENTIALS_BODY, INVALID_TOKEN_BODY, login, loginToken, plainUser, STEP_MS, TFA_LOCKED_BODY, TFA_REQUIRED_BODY, type TfaUser, UNAUTHENTICATED_BODY, wrongCode } from '../flows.js'

// Sensitive actions (seed 001): changing the password takes a code when TFA is on, and the user
// chooses which actions are protected — except disabling TFA and regenerating recovery codes.
const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })
const NEW_PASSWORD = 'a brand new passphrase'
const CURRENT_PASSWORD_WRONG_BODY = JSON.stringify(errorBody(400, ErrorCatalogue.currentPasswordWrong.message))
const DEFAULT_SETTINGS = { protected_actions: ['login', 'password_change'], always_protected: ['tfa_disable', 'recovery_codes_regenerate', 'tfa_settings_change'] }

const changePassword = async (token: string, payload: Record<string, unknown>) =>
  await app.inject({ method: 'POST', url: '/password', headers: bearer(token), payload })
const putSettings = async (token: string, payload: Record<string, unknown>) =>
  await app.inject({ method: 'PUT', url: '/tfa/settings', headers: bearer(token), payload })
const getSettings = async (token: string) => await app.inject({ method: 'GET', url: '/tfa/settings', headers: bearer(token) })
const failures = async (user: { id: string }) => await app.secondFactor.failures(user.id)

/** The password is still `password`: it logs in (with a fresh code for a TFA user) and `other` does not. */
async function assertPassword (t: Tap, user: { username: string }, password: string, other: string, code?: () => string) {
  const ok = await login(app, { username: user.username, password, ...(code ? { totp: code() } : {}) })
  t.equal(ok.statusCode, 200, `"${password}" logs in`)
  if (code) clock.advance(STEP_MS)
  const refused = await login(app, { username: user.username, password: other, ...(code ? { totp: code() } : {}) })
  t.equal(refused.statusCode, 401, `"${other}" does not`)
  t.equal(refused.body, INVALID_CREDENTIALS_BODY, `"${other}": the plain 401`)
}
interface Tap { equal: (found: unknown, wanted: unknown, message: string) => boolean }

t.test('POST /password needs a bearer token', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/password', payload: { current_password: PASSWORD, new_password: NEW_PASSWORD } })
  t.equal(res.statusCode, 401)
  t.equal(res.body, UNAUTHENTICATED_BODY)
})

t.test('without TFA: the current password for a new one (204); the old one stops working', async (t) => {
  const user = await plainUser(app)
  const res = await changePassword(user.token, { current_password: PASSWORD, new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  await assertPassword(t, user, NEW_PASSWORD, PASSWORD)
  // Fields a user without TFA does not need are ignored.
  const token = await loginToken(app, { username: user.username, password: NEW_PASSWORD })
  const back = await changePassword(token, { current_password: NEW_PASSWORD, new_password: PASSWORD, totp: '123456' })
  t.equal(back.statusCode, 204)
  await assertPassword(t, user, PASSWORD, NEW_PASSWORD)
})

t.test('a wrong current password: 400 "The current password is wrong.", nothing changes', async (t) => {
  const user = await plainUser(app)
  const res = await changePassword(user.token, { current_password: 'not my password', new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 400)
  t.equal(res.body, CURRENT_PASSWORD_WRONG_BODY)
  t.equal(res.json().error.message, 'The current password is wrong.')
  await assertPassword(t, user, PASSWORD, NEW_PASSWORD)
})

t.test('the new password follows the registration policy', async (t) => {
  const user = await plainUser(app)
  const short = await changePassword(user.token, { current_password: PASSWORD, new_password: 'short' })
  t.equal(short.statusCode, 400)
  const long = await changePassword(user.token, { current_password: PASSWORD, new_password: 'x'.repeat(73) })
  t.equal(long.statusCode, 400)
  t.equal(long.json().error.message, ErrorCatalogue.passwordTooLong.message)
  const missing = await changePassword(user.token, { current_password: PASSWORD })
  t.equal(missing.statusCode, 400)
  const extra = await changePassword(user.token, { current_password: PASSWORD, new_password: NEW_PASSWORD, admin: true })
  t.equal(extra.statusCode, 400)
  await assertPassword(t, user, PASSWORD, NEW_PASSWORD)
})

t.test('done when: with TFA on, a password change without a code is refused', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 401)
  t.equal(res.body, TFA_REQUIRED_BODY, 'exactly the login body')
  // A blank code is a missing one.
  const blank = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: '' })
  t.equal(blank.body, TFA_REQUIRED_BODY)
  t.equal(await failures(user), 0, 'a missing code is not a failure')
  await assertPassword(t, user, user.password, NEW_PASSWORD, user.code)
})

t.test('with TFA on: a wrong or replayed code is refused with the same body', async (t) => {
  const user = await createTfaUser(app, clock)
  const wrong = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: wrongCode(user.secret, clock.now()) })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.body, TFA_REQUIRED_BODY)
  t.equal(await failures(user), 1, 'the wrong code counts towards the lock')

  // A code already used at login cannot be used again here.
  const code = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: code })).statusCode, 200)
  const replay = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: code })
  t.equal(replay.statusCode, 401)
  t.equal(replay.body, TFA_REQUIRED_BODY, 'a code used at login is spent')
  clock.advance(STEP_MS)
  await assertPassword(t, user, user.password, NEW_PASSWORD, user.code)
})

t.test('with TFA on: the code in `totp` (204), and it cannot be reused', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const res = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: code })
  t.equal(res.statusCode, 204, res.body)
  // The same code is spent: for another change and for a login.
  const again = await changePassword(user.token, { current_password: NEW_PASSWORD, new_password: PASSWORD, totp: code })
  t.equal(again.statusCode, 401)
  t.equal(again.body, TFA_REQUIRED_BODY)
  const loginReplay = await login(app, { username: user.username, password: NEW_PASSWORD, totp: code })
  t.equal(loginReplay.body, TFA_REQUIRED_BODY, 'not at login either')
  clock.advance(STEP_MS)
  await assertPassword(t, user, NEW_PASSWORD, user.password, user.code)
})

t.test('with TFA on: the code typed right after the current password (204)', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const res = await changePassword(user.token, { current_password: user.password + code, new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 204, res.body)
  const replay = await changePassword(user.token, { current_password: NEW_PASSWORD + code, new_password: PASSWORD })
  t.equal(replay.body, TFA_REQUIRED_BODY, 'the appended code is spent too')
  clock.advance(STEP_MS)
  await assertPassword(t, user, NEW_PASSWORD, user.password, user.code)
})

t.test('with TFA on: a recovery code (204), once', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, recovery_code: user.recoveryCodes[2]! })
  t.equal(res.statusCode, 204, res.body)
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(user.token) })).json().recovery_codes_left, 9)
  const again = await changePassword(user.token, { current_password: NEW_PASSWORD, new_password: PASSWORD, recovery_code: user.recoveryCodes[2]! })
  t.equal(again.body, TFA_REQUIRED_BODY)
})

t.test('with TFA on: a wrong current password is 400 whatever the code, and spends no code', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const res = await changePassword(user.token, { current_password: 'not my password', new_password: NEW_PASSWORD, totp: code })
  t.equal(res.statusCode, 400)
  t.equal(res.body, CURRENT_PASSWORD_WRONG_BODY)
  const noCode = await changePassword(user.token, { current_password: 'not my password', new_password: NEW_PASSWORD })
  t.equal(noCode.body, CURRENT_PASSWORD_WRONG_BODY, 'a wrong password never learns that a code is needed')
  t.equal(await failures(user), 0)
  const ok = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: code })
  t.equal(ok.statusCode, 204, 'the code was still unused')
})

t.test('with TFA on: wrong codes at POST /password count towards the lock, shared with login', async (t) => {
  const user = await createTfaUser(app, clock)
  for (let i = 1; i <= 3; i++) {
    const res = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: wrongCode(user.secret, clock.now()) })
    t.equal(res.body, TFA_REQUIRED_BODY, `wrong code ${i}`)
  }
  t.equal((await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })).body, TFA_REQUIRED_BODY)
  t.equal(await failures(user), 4)
  const fifth = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: wrongCode(user.secret, clock.now()) })
  t.equal(fifth.statusCode, 429, 'the fifth wrong code locks')
  t.equal(fifth.body, TFA_LOCKED_BODY)
  t.match(fifth.headers['retry-after'], /^[0-9]+$/)
  const right = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD, totp: user.code() })
  t.equal(right.statusCode, 429, 'locked: the right code is refused too')
  const atLogin = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(atLogin.statusCode, 429, 'and at login')
  const noCode = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD })
  t.equal(noCode.statusCode, 429, 'a missing code learns the lock')
  await app.secondFactor.unlock(user.id)
  await assertPassword(t, user, user.password, NEW_PASSWORD, user.code)
})

t.test('GET /tfa/settings: the defaults, with or without TFA', async (t) => {
  const plain = await plainUser(app)
  const res = await getSettings(plain.token)
  t.equal(res.statusCode, 200)
  t.same(res.json(), DEFAULT_SETTINGS)
  const user = await createTfaUser(app, clock)
  t.same((await getSettings(user.token)).json(), DEFAULT_SETTINGS)
  t.equal((await app.inject({ method: 'GET', url: '/tfa/settings' })).statusCode, 401)
  t.equal((await app.inject({ method: 'PUT', url: '/tfa/settings', payload: { protected_actions: [] } })).statusCode, 401)
})

t.test('PUT /tfa/settings with TFA on needs a right, unused code', async (t) => {
  const user = await createTfaUser(app, clock)
  const missing = await putSettings(user.token, { protected_actions: ['login'] })
  t.equal(missing.statusCode, 400)
  t.equal(missing.body, INVALID_TOKEN_BODY)
  const wrong = await putSettings(user.token, { protected_actions: ['login'], totp: wrongCode(user.secret, clock.now()) })
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.body, INVALID_TOKEN_BODY)
  t.ok(await failures(user) >= 1, 'wrong codes count')
  t.same((await getSettings(user.token)).json(), DEFAULT_SETTINGS, 'unchanged')

  const code = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: code })).statusCode, 200)
  const replay = await putSettings(user.token, { protected_actions: ['login'], totp: code })
  t.equal(replay.statusCode, 400, 'a code used at login is spent')
  clock.advance(STEP_MS)
  const ok = await putSettings(user.token, { protected_actions: ['login'], totp: user.code() })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json(), { ...DEFAULT_SETTINGS, protected_actions: ['login'] })
  t.same((await getSettings(user.token)).json(), { ...DEFAULT_SETTINGS, protected_actions: ['login'] })
})

t.test('PUT /tfa/settings validates the actions', async (t) => {
  const user = await plainUser(app)
  for (const actions of [['tfa_disable'], ['login', 'login'], ['everything'], 'login']) {
    const res = await putSettings(user.token, { protected_actions: actions })
    t.equal(res.statusCode, 400, JSON.stringify(actions))
  }
  t.equal((await putSettings(user.token, {})).statusCode, 400)
  t.same((await getSettings(user.token)).json(), DEFAULT_SETTINGS)
})

t.test('without TFA, settings change without a code and take effect once TFA is on', async (t) => {
  const user = await plainUser(app)
  const res = await putSettings(user.token, { protected_actions: ['password_change'] })
  t.equal(res.statusCode, 200)
  t.same(res.json().protected_actions, ['password_change'])
  t.equal((await login(app, { username: user.username, password: PASSWORD })).statusCode, 200)
})

t.test('removing "password_change": POST /password works without a code', async (t) => {
  const user = await createTfaUser(app, clock)
  const ok = await putSettings(user.token, { protected_actions: ['login'], totp: user.code() })
  t.equal(ok.statusCode, 200)
  clock.advance(STEP_MS)
  const res = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 204, res.body)
  const wrong = await changePassword(user.token, { current_password: 'not my password', new_password: PASSWORD })
  t.equal(wrong.body, CURRENT_PASSWORD_WRONG_BODY)
  // Login is still protected.
  t.equal((await login(app, { username: user.username, password: NEW_PASSWORD })).body, TFA_REQUIRED_BODY)
  await assertPassword(t, user, NEW_PASSWORD, user.password, user.code)
})

t.test('removing "login": the password alone logs in (amr pwd); password changes still need the code', async (t) => {
  const user = await createTfaUser(app, clock)
  const ok = await putSettings(user.token, { protected_actions: ['password_change'], totp: user.code() })
  t.equal(ok.statusCode, 200)
  clock.advance(STEP_MS)
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.statusCode, 200, res.body)
  t.same(amrOf(app, res), ['pwd'])
  t.equal((await login(app, { username: user.username, password: 'wrong password' })).body, INVALID_CREDENTIALS_BODY)
  const change = await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD })
  t.equal(change.body, TFA_REQUIRED_BODY, 'password_change is still protected')
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(user.token) })).json().enabled, true, 'TFA itself stays on')
  // Putting it back brings the code back.
  t.equal((await putSettings(user.token, { protected_actions: ['login', 'password_change'], totp: user.code() })).statusCode, 200)
  t.equal((await login(app, { username: user.username, password: user.password })).body, TFA_REQUIRED_BODY)
})

t.test('with nothing protected, disabling TFA, regenerating recovery codes and changing settings still need a code', async (t) => {
  const user: TfaUser = await createTfaUser(app, clock)
  const ok = await putSettings(user.token, { protected_actions: [], totp: user.code() })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { ...DEFAULT_SETTINGS, protected_actions: [] })
  clock.advance(STEP_MS)

  t.equal((await login(app, { username: user.username, password: user.password })).statusCode, 200)
  t.equal((await changePassword(user.token, { current_password: user.password, new_password: NEW_PASSWORD })).statusCode, 204)

  const regen = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(user.token), payload: { totp: wrongCode(user.secret, clock.now()) } })
  t.equal(regen.statusCode, 400)
  t.equal(regen.body, INVALID_TOKEN_BODY)
  const regenMissing = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(user.token), payload: {} })
  t.equal(regenMissing.statusCode, 400)
  const disable = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: { totp: wrongCode(user.secret, clock.now()) } })
  t.equal(disable.statusCode, 400)
  t.equal(disable.body, INVALID_TOKEN_BODY)
  const disableMissing = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: {} })
  t.equal(disableMissing.statusCode, 400)
  const settings = await putSettings(user.token, { protected_actions: ['login'] })
  t.equal(settings.statusCode, 400)
  t.equal(settings.body, INVALID_TOKEN_BODY)
  t.equal((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(user.token) })).json().enabled, true, 'still on')

  // With the code they work.
  const regenOk = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(user.token), payload: { totp: user.code() } })
  t.equal(regenOk.statusCode, 200)
  clock.advance(STEP_MS)
  const disableOk = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: { totp: user.code() } })
  t.equal(disableOk.statusCode, 200)
})
