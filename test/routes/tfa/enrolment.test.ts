import t from 'tap'
import { generateTotpCode, matchTotpStep } from '../../../src/auth/totp.js'
import { ErrorCatalogue } from '../../../src/errors.js'
import { buildTestApp, TestClock } from '../../helper.js'
import { amrOf, bearer, createTfaUser, INVALID_TOKEN_BODY, login, plainUser, STEP_MS, TFA_REQUIRED_BODY, wrongCode } from '../../flows.js'

// Switching TOTP on and off: POST /tfa/enable, /tfa/validate with a code from the new secret,
// and /tfa/disable.
const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })

const post = async (url: string, token: string, payload?: Record<string, string>) =>
  await app.inject({ method: 'POST', url, headers: bearer(token), ...(payload ? { payload } : {}) })
const status = async (token: string) => await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })

t.test('enable → validate → status, with the default device name', async (t) => {
  const user = await plainUser(app)
  const before = await status(user.token)
  t.equal(before.statusCode, 200)
  t.same(before.json(), { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })

  const enable = await post('/tfa/enable', user.token)
  t.equal(enable.statusCode, 200)
  const body = enable.json() as { secret: string, otpauth_url: string, qr_code: string, warning: string }
  t.same(Object.keys(body).sort(), ['otpauth_url', 'qr_code', 'secret', 'warning'])
  t.match(body.secret, /^[A-Z2-7]{32}$/)
  t.equal(body.otpauth_url, `otpauth://totp/twofold:${user.username}?secret=${body.secret}&issuer=twofold&algorithm=SHA1&digits=6&period=30`)
  t.match(body.qr_code, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/)
  t.match(body.warning, /automat/)

  const pending = await status(user.token)
  t.same(pending.json(), { enabled: false, method: null, phone: null, pending: true, device_name: null, recovery_codes_left: 0 }, 'pending, not enabled')
  // Pending is not on: the password alone still logs in.
  const stillPlain = await login(app, { username: user.username, password: user.password })
  t.equal(stillPlain.statusCode, 200)
  t.same(amrOf(app, stillPlain), ['pwd'])

  const validate = await post('/tfa/validate', user.token, { totp: generateTotpCode(body.secret, clock.now()) })
  t.equal(validate.statusCode, 200, validate.body)
  const validated = validate.json() as { enabled: boolean, device_name: string, recovery_codes: string[] }
  t.equal(validated.enabled, true)
  t.equal(validated.device_name, 'unnamed')
  t.equal(validated.recovery_codes.length, 10)
  t.equal(new Set(validated.recovery_codes).size, 10, 'ten distinct codes')
  for (const code of validated.recovery_codes) t.match(code, /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/)

  const after = await status(user.token)
  t.same(after.json(), { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'unnamed', recovery_codes_left: 10 })
  const passwordOnly = await login(app, { username: user.username, password: user.password })
  t.equal(passwordOnly.statusCode, 401)
  t.equal(passwordOnly.body, TFA_REQUIRED_BODY, 'TFA is now on')
})

t.test('validate with a custom device name', async (t) => {
  const user = await plainUser(app)
  const { secret } = (await post('/tfa/enable', user.token)).json() as { secret: string }
  const validate = await post('/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now()), device_name: 'Pixel 8' })
  t.equal(validate.statusCode, 200)
  t.equal(validate.json().device_name, 'Pixel 8')
  t.equal((await status(user.token)).json().device_name, 'Pixel 8')
})

t.test('a wrong code at validate: 400 Invalid token., TFA stays off and still pending', async (t) => {
  const user = await plainUser(app)
  const { secret } = (await post('/tfa/enable', user.token)).json() as { secret: string }
  const res = await post('/tfa/validate', user.token, { totp: wrongCode(secret, clock.now()) })
  t.equal(res.statusCode, 400)
  t.equal(res.body, INVALID_TOKEN_BODY)
  t.same((await status(user.token)).json(), { enabled: false, method: null, phone: null, pending: true, device_name: null, recovery_codes_left: 0 })
  const plain = await login(app, { username: user.username, password: user.password })
  t.equal(plain.statusCode, 200, 'password alone still logs in')
  // The right code still works afterwards.
  const ok = await post('/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now()) })
  t.equal(ok.statusCode, 200)
})

t.test('a code from a different time (expired) is refused at validate', async (t) => {
  const user = await plainUser(app)
  const { secret } = (await post('/tfa/enable', user.token)).json() as { secret: string }
  const res = await post('/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now() - 5 * 60_000) })
  t.equal(res.statusCode, 400)
  t.equal((await status(user.token)).json().enabled, false)
})

t.test('enable twice replaces the pending secret: the first secret is then refused', async (t) => {
  const user = await plainUser(app)
  const first = (await post('/tfa/enable', user.token)).json() as { secret: string }
  const second = (await post('/tfa/enable', user.token)).json() as { secret: string }
  t.not(first.secret, second.secret)
  // Guard against the one-in-a-million chance that the first secret's code is also valid for the second.
  while (matchTotpStep(second.secret, generateTotpCode(first.secret, clock.now()), clock.now(), 2) !== null) clock.advance(STEP_MS)
  const stale = await post('/tfa/validate', user.token, { totp: generateTotpCode(first.secret, clock.now()) })
  t.equal(stale.statusCode, 400)
  t.equal(stale.body, INVALID_TOKEN_BODY)
  t.equal((await status(user.token)).json().enabled, false)
  const ok = await post('/tfa/validate', user.token, { totp: generateTotpCode(second.secret, clock.now()) })
  t.equal(ok.statusCode, 200)
})

t.test('validate with nothing pending: 409', async (t) => {
  const user = await plainUser(app)
  const res = await post('/tfa/validate', user.token, { totp: '123456' })
  t.equal(res.statusCode, 409)
  t.equal(res.json().error.message, ErrorCatalogue.tfaNotPending.message)
})

t.test('enable and validate when TFA is already on: 409, and nothing changes', async (t) => {
  const user = await createTfaUser(app, clock)
  const enable = await post('/tfa/enable', user.token)
  t.equal(enable.statusCode, 409)
  t.equal(enable.json().error.message, ErrorCatalogue.tfaAlreadyEnabled.message)
  const validate = await post('/tfa/validate', user.token, { totp: user.code() })
  t.equal(validate.statusCode, 409)
  t.equal(validate.json().error.message, ErrorCatalogue.tfaAlreadyEnabled.message)
  t.same((await status(user.token)).json(), { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'unnamed', recovery_codes_left: 10 })
  // The original secret still works: nothing was replaced.
  const res = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(res.statusCode, 200)
})

t.test('disable with a TOTP code', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await post('/tfa/disable', user.token, { totp: user.code() })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { enabled: false })
  t.same((await status(user.token)).json(), { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })
  const plain = await login(app, { username: user.username, password: user.password })
  t.equal(plain.statusCode, 200)
  t.same(amrOf(app, plain), ['pwd'])
  // The recovery codes died with it.
  const again = await post('/tfa/disable', user.token, { recovery_code: user.recoveryCodes[0]! })
  t.equal(again.statusCode, 409)
  t.equal(again.json().error.message, ErrorCatalogue.tfaNotEnabled.message)
  t.equal(await app.prisma.recoveryCode.count({ where: { userId: user.id } }), 0)
})

t.test('disable with a recovery code', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await post('/tfa/disable', user.token, { recovery_code: user.recoveryCodes[3]! })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { enabled: false })
  t.equal((await status(user.token)).json().enabled, false)
})

t.test('disable with a wrong code: 400, TFA stays on', async (t) => {
  const user = await createTfaUser(app, clock)
  const wrong = await post('/tfa/disable', user.token, { totp: wrongCode(user.secret, clock.now()) })
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.body, INVALID_TOKEN_BODY)
  const wrongRecovery = await post('/tfa/disable', user.token, { recovery_code: 'aaaa-bbbb-cccc-dddd' })
  t.equal(wrongRecovery.statusCode, 400)
  t.equal(wrongRecovery.body, INVALID_TOKEN_BODY)
  t.same((await status(user.token)).json(), { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'unnamed', recovery_codes_left: 10 })
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.body, TFA_REQUIRED_BODY, 'login still needs a code')
  // Both failures were counted.
  t.equal(await app.secondFactor.failures(user.id), 2)
})

t.test('disable when TFA is off: 409', async (t) => {
  const user = await plainUser(app)
  const res = await post('/tfa/disable', user.token, { totp: '123456' })
  t.equal(res.statusCode, 409)
  t.equal(res.json().error.message, ErrorCatalogue.tfaNotEnabled.message)
})

t.test('concurrent disables (a code and recovery codes at once): one wins, the rest 409, never a 500', async (t) => {
  for (let trial = 0; trial < 5; trial++) {
    const user = await createTfaUser(app, clock)
    const attempts = [
      post('/tfa/disable', user.token, { totp: user.code() }),
      ...user.recoveryCodes.slice(0, 4).map(code => post('/tfa/disable', user.token, { recovery_code: code }))
    ]
    const statuses = (await Promise.all(attempts)).map(r => r.statusCode)
    t.equal(statuses.filter(s => s === 200).length, 1, `trial ${trial}: exactly one disable (${statuses.join(', ')})`)
    t.ok(statuses.every(s => s === 200 || s === 409 || s === 400), `trial ${trial}: the others 409 or 400, no 500`)
    t.same((await status(user.token)).json().enabled, false)
  }
})
