import t from 'tap'
import { generateTotpCode } from '../../src/auth/totp.js'
import { buildTestApp, TestClock } from '../helper.js'
import { amrOf, createTfaUser, INVALID_CREDENTIALS_BODY, login, randomUsername, register, STEP_MS, TFA_REQUIRED_BODY, wrongCode, decodeClaims } from '../flows.js'

const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })

// Each test takes its own user: wrong, expired and replayed codes count towards the lock.

t.test('password login issues a token with amr pwd', async (t) => {
  await register(app, 'plain', 'correct horse')
  const res = await app.inject({ method: 'POST', url: '/login', payload: ({ username: 'plain', password: 'correct horse' }) })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.token_type, 'Bearer')
  t.match(decodeClaims(body.access_token), { sub: String, amr: ['pwd'] })
})

t.test('TFA: code missing gives the documented body', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await app.inject({ method: 'POST', url: '/login', payload: ({ username: user.username, password: user.password }) })
  t.equal(res.statusCode, 401)
  t.equal(res.body, TFA_REQUIRED_BODY)
  const ok = await app.inject({ method: 'POST', url: '/login', payload: ({ username: user.username, password: user.password + user.code() }) })
  t.equal(ok.statusCode, 200)
})

t.test('the documented 401 body, byte for byte', async (t) => {
  t.equal(TFA_REQUIRED_BODY, '{"error":{"message":"Additional authentications steps required.","code":401,"identity":null,"title":"Unauthorized"}}')
  t.equal(INVALID_CREDENTIALS_BODY, '{"error":{"message":"Invalid username or password.","code":401,"identity":null,"title":"Unauthorized"}}')
})

t.test('code missing: TFA_REQUIRED_BODY', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.statusCode, 401)
  t.equal(res.body, TFA_REQUIRED_BODY)
  t.match(res.headers['content-type'], /^application\/json/)
})

t.test('wrong code: TFA_REQUIRED_BODY, in `totp` and appended', async (t) => {
  const user = await createTfaUser(app, clock)
  const bad = wrongCode(user.secret, clock.now())
  const inField = await login(app, { username: user.username, password: user.password, totp: bad })
  t.equal(inField.statusCode, 401)
  t.equal(inField.body, TFA_REQUIRED_BODY)
  const appended = await login(app, { username: user.username, password: user.password + bad })
  t.equal(appended.statusCode, 401)
  t.equal(appended.body, TFA_REQUIRED_BODY)
  const ok = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(ok.statusCode, 200, 'the right code still works')
})

t.test('expired code (clock moved 5 minutes on): TFA_REQUIRED_BODY', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  clock.advance(5 * 60_000)
  t.not(code, user.code(), 'the code has changed')
  const inField = await login(app, { username: user.username, password: user.password, totp: code })
  t.equal(inField.statusCode, 401)
  t.equal(inField.body, TFA_REQUIRED_BODY)
  const appended = await login(app, { username: user.username, password: user.password + code })
  t.equal(appended.body, TFA_REQUIRED_BODY)
  const ok = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(ok.statusCode, 200, 'the current code works')
})

t.test('a code from two steps back (outside the window) is refused', async (t) => {
  const user = await createTfaUser(app, clock)
  clock.advance(5 * STEP_MS)
  const old = generateTotpCode(user.secret, clock.now() - 2 * STEP_MS)
  const res = await login(app, { username: user.username, password: user.password, totp: old })
  t.equal(res.body, TFA_REQUIRED_BODY)
})

t.test('replayed code: TFA_REQUIRED_BODY', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const first = await login(app, { username: user.username, password: user.password, totp: code })
  t.equal(first.statusCode, 200)
  const again = await login(app, { username: user.username, password: user.password, totp: code })
  t.equal(again.statusCode, 401)
  t.equal(again.body, TFA_REQUIRED_BODY)
  const appended = await login(app, { username: user.username, password: user.password + code })
  t.equal(appended.body, TFA_REQUIRED_BODY, 'appended replay refused too')
})

t.test('code in the `totp` field: 200 with amr pwd, otp, mfa', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(res.statusCode, 200)
  const body = res.json() as { access_token: string, token_type: string, expires_in: number }
  t.equal(body.token_type, 'Bearer')
  const claims = decodeClaims(body.access_token) as { sub: string, amr: string[] }
  t.equal(claims.sub, user.id)
  t.same(claims.amr, ['pwd', 'otp', 'mfa'])
})

t.test('code appended to the password: 200 with amr pwd, otp, mfa', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await login(app, { username: user.username, password: user.password + user.code() })
  t.equal(res.statusCode, 200)
  t.same(amrOf(app, res), ['pwd', 'otp', 'mfa'])
})

t.test('code with spaces is accepted in `totp`', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const res = await login(app, { username: user.username, password: user.password, totp: `${code.slice(0, 3)} ${code.slice(3)}` })
  t.equal(res.statusCode, 200)
  t.same(amrOf(app, res), ['pwd', 'otp', 'mfa'])
  clock.advance(STEP_MS)
  const next = user.code()
  const padded = await login(app, { username: user.username, password: user.password, totp: ` ${next} ` })
  t.equal(padded.statusCode, 200, 'leading and trailing spaces too')
})

t.test('a password that itself ends in six digits', async (t) => {
  const password = 'hunter22123456'
  const user = await createTfaUser(app, clock, { password })

  const withoutCode = await login(app, { username: user.username, password })
  t.equal(withoutCode.statusCode, 401)
  t.equal(withoutCode.body, TFA_REQUIRED_BODY, 'right password, no code: TFA required, not the plain 401')

  const appended = await login(app, { username: user.username, password: password + user.code() })
  t.equal(appended.statusCode, 200, 'with the code appended')
  t.same(amrOf(app, appended), ['pwd', 'otp', 'mfa'])

  clock.advance(STEP_MS)
  const inField = await login(app, { username: user.username, password, totp: user.code() })
  t.equal(inField.statusCode, 200, 'with the code in `totp`')

  clock.advance(STEP_MS)
  // 'hunter22' is a valid-length prefix but the wrong password: it must not count as password + code.
  const prefix = await login(app, { username: user.username, password: 'hunter22' + user.code() })
  t.equal(prefix.statusCode, 401)
  t.equal(prefix.body, INVALID_CREDENTIALS_BODY)
  const wrongAppended = await login(app, { username: user.username, password: password + wrongCode(user.secret, clock.now()) })
  t.equal(wrongAppended.body, TFA_REQUIRED_BODY, 'right password, wrong appended code')
})

t.test('wrong password with a valid code: the plain 401, and the code is not spent', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const inField = await login(app, { username: user.username, password: 'wrong password!', totp: code })
  t.equal(inField.statusCode, 401)
  t.equal(inField.body, INVALID_CREDENTIALS_BODY)
  const appended = await login(app, { username: user.username, password: 'wrong password!' + code })
  t.equal(appended.body, INVALID_CREDENTIALS_BODY)
  const recovery = await login(app, { username: user.username, password: 'wrong password!', recovery_code: user.recoveryCodes[0]! })
  t.equal(recovery.body, INVALID_CREDENTIALS_BODY)
  const unknown = await login(app, { username: randomUsername(), password: user.password, totp: code })
  t.equal(unknown.body, INVALID_CREDENTIALS_BODY, 'unknown user')
  // Neither the code nor the recovery code was consumed by the failed attempts.
  const ok = await login(app, { username: user.username, password: user.password, totp: code })
  t.equal(ok.statusCode, 200)
  const okRecovery = await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[0]! })
  t.equal(okRecovery.statusCode, 200)
})

t.test('a recovery code logs in once (amr pwd, mfa), then TFA_REQUIRED_BODY', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.recoveryCodes[0]!
  const first = await login(app, { username: user.username, password: user.password, recovery_code: code })
  t.equal(first.statusCode, 200)
  t.same(amrOf(app, first), ['pwd', 'mfa'])
  const again = await login(app, { username: user.username, password: user.password, recovery_code: code })
  t.equal(again.statusCode, 401)
  t.equal(again.body, TFA_REQUIRED_BODY)
  const garbage = await login(app, { username: user.username, password: user.password, recovery_code: 'not-a-code' })
  t.equal(garbage.body, TFA_REQUIRED_BODY)
})

t.test('a recovery code is no TOTP code, and a TOTP code is no recovery code', async (t) => {
  const user = await createTfaUser(app, clock)
  const asTotp = await login(app, { username: user.username, password: user.password, totp: user.recoveryCodes[0]!.replace(/-/g, '') })
  t.equal(asTotp.body, TFA_REQUIRED_BODY)
  const asRecovery = await login(app, { username: user.username, password: user.password, recovery_code: user.code() })
  t.equal(asRecovery.body, TFA_REQUIRED_BODY)
})

t.test('a user without TFA: the password alone, extra fields ignored', async (t) => {
  const username = randomUsername()
  const password = 'plain password'
  await register(app, username, password)
  const extras: Array<Record<string, string>> = [{}, { totp: '123456' }, { totp: 'garbage' }, { recovery_code: 'aaaa-bbbb-cccc-dddd' }, { totp: '000000', recovery_code: 'x' }]
  for (const extra of extras) {
    const res = await login(app, { username, password, ...extra })
    t.equal(res.statusCode, 200, `fields ${JSON.stringify(extra)}`)
    t.same(amrOf(app, res), ['pwd'])
  }
  // No six digits are split off a password when TFA is off: the field is the password.
  const appended = await login(app, { username, password: `${password}123456` })
  t.equal(appended.statusCode, 401)
  t.equal(appended.body, INVALID_CREDENTIALS_BODY)
  const wrong = await login(app, { username, password: 'wrong password', totp: '123456' })
  t.equal(wrong.body, INVALID_CREDENTIALS_BODY)
})

t.test('codes are strings: a number in `totp` is a validation error, not a login', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await app.inject({ method: 'POST', url: '/login', payload: { username: user.username, password: user.password, totp: Number(user.code()) } })
  t.equal(res.statusCode, 400)
})
