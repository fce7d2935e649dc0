import t from 'tap'
import { generateTotpCode } from '../../../src/auth/totp.js'
import { ErrorCatalogue } from '../../../src/errors.js'
import { buildTestApp, TestClock } from '../../helper.js'
import { amrOf, bearer, createTfaUser, INVALID_TOKEN_BODY, login, plainUser, STEP_MS, TFA_REQUIRED_BODY, UNAUTHENTICATED_BODY, wrongCode, decodeClaims } from '../../flows.js'

// TFA once it is on: GET /tfa and regenerating recovery codes — and the bearer token and the
// secrecy every /tfa route (enrolment's too) keeps. Devices and events: devices-events.test.ts.
const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })

const post = async (url: string, token: string, payload?: Record<string, string>) =>
  await app.inject({ method: 'POST', url, headers: bearer(token), ...(payload ? { payload } : {}) })
const status = async (token: string) => await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })

/** The forms of the secret or of a recovery code (as a client could use them) that `body` contains. */
function leaks (body: string, secret: string, recoveryCodes: string[]): string[] {
  const needles = [secret, secret.toLowerCase(), ...recoveryCodes.flatMap(c => [c, c.replace(/-/g, ''), c.toUpperCase()])]
  return needles.filter(needle => body.includes(needle))
}

t.test('every /tfa route needs a bearer token', async (t) => {
  for (const [method, url] of [['POST', '/tfa/enable'], ['POST', '/tfa/validate'], ['POST', '/tfa/disable'], ['GET', '/tfa'], ['POST', '/tfa/recovery-codes']] as const) {
    const res = await app.inject({ method, url, ...(method === 'POST' ? { payload: { totp: '123456' } } : {}) })
    t.equal(res.statusCode, 401, `${method} ${url} without a token`)
    t.equal(res.body, UNAUTHENTICATED_BODY)
    const forged = await app.inject({ method, url, headers: { authorization: 'Bearer not.a.jwt' }, ...(method === 'POST' ? { payload: { totp: '123456' } } : {}) })
    t.equal(forged.statusCode, 401, `${method} ${url} with a garbage token`)
  }
})

t.test('regenerating recovery codes: old ones stop working, new ones work', async (t) => {
  const user = await createTfaUser(app, clock)
  const regen = await post('/tfa/recovery-codes', user.token, { totp: user.code() })
  t.equal(regen.statusCode, 200)
  const { recovery_codes: fresh } = regen.json() as { recovery_codes: string[] }
  t.equal(fresh.length, 10)
  for (const code of fresh) t.notOk(user.recoveryCodes.includes(code), 'a new code')
  t.equal((await status(user.token)).json().recovery_codes_left, 10)

  for (const old of [user.recoveryCodes[0]!, user.recoveryCodes[9]!]) {
    const res = await login(app, { username: user.username, password: user.password, recovery_code: old })
    t.equal(res.statusCode, 401)
    t.equal(res.body, TFA_REQUIRED_BODY, 'an old code is dead')
  }
  const res = await login(app, { username: user.username, password: user.password, recovery_code: fresh[0]! })
  t.equal(res.statusCode, 200)
  t.same(amrOf(app, res), ['pwd', 'mfa'])
})

t.test('regenerating needs a right, unused code and TFA on', async (t) => {
  const user = await createTfaUser(app, clock)
  const wrong = await post('/tfa/recovery-codes', user.token, { totp: wrongCode(user.secret, clock.now()) })
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.body, INVALID_TOKEN_BODY)
  // The old codes survive a failed regeneration.
  const ok = await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[0]! })
  t.equal(ok.statusCode, 200)

  const code = user.code()
  t.equal((await post('/tfa/recovery-codes', user.token, { totp: code })).statusCode, 200)
  const replay = await post('/tfa/recovery-codes', user.token, { totp: code })
  t.equal(replay.statusCode, 400, 'the code used to regenerate is spent')

  const plain = await plainUser(app)
  const off = await post('/tfa/recovery-codes', plain.token, { totp: '123456' })
  t.equal(off.statusCode, 409)
  t.equal(off.json().error.message, ErrorCatalogue.tfaNotEnabled.message)
})

t.test('recovery_codes_left counts down as codes are used', async (t) => {
  const user = await createTfaUser(app, clock)
  t.equal((await status(user.token)).json().recovery_codes_left, 10)
  for (let used = 1; used <= 3; used++) {
    const res = await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[used]! })
    t.equal(res.statusCode, 200)
    t.equal((await status(user.token)).json().recovery_codes_left, 10 - used)
  }
  // A refused (already used) code does not change the count.
  await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[1]! })
  t.equal((await status(user.token)).json().recovery_codes_left, 7)
})

t.test('the secret and the recovery codes appear only in enable/validate/recovery-codes responses', async (t) => {
  const user = await plainUser(app)
  const enable = await post('/tfa/enable', user.token)
  const { secret } = enable.json() as { secret: string }
  const pendingStatus = await status(user.token)
  t.same(leaks(pendingStatus.body, secret, []), [], 'GET /tfa while pending')

  const validate = await post('/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now()) })
  const { recovery_codes: codes } = validate.json() as { recovery_codes: string[] }
  clock.advance(STEP_MS)
  const regen = await post('/tfa/recovery-codes', user.token, { totp: generateTotpCode(secret, clock.now()) })
  t.equal(regen.statusCode, 200)
  const { recovery_codes: fresh } = regen.json() as { recovery_codes: string[] }
  const all = [...codes, ...fresh]
  clock.advance(STEP_MS)

  const bodies: Array<[string, string]> = []
  bodies.push(['GET /tfa', (await status(user.token)).body])
  bodies.push(['login without code', (await login(app, { username: user.username, password: user.password })).body])
  bodies.push(['login wrong code', (await login(app, { username: user.username, password: user.password, totp: wrongCode(secret, clock.now()) })).body])
  bodies.push(['login wrong password', (await login(app, { username: user.username, password: 'wrong password', totp: generateTotpCode(secret, clock.now()) })).body])
  const ok = await login(app, { username: user.username, password: user.password, totp: generateTotpCode(secret, clock.now()) })
  t.equal(ok.statusCode, 200)
  bodies.push(['login success', ok.body])
  const { access_token: accessToken } = ok.json() as { access_token: string }
  bodies.push(['token claims', JSON.stringify(decodeClaims(accessToken))])
  const recovery = await login(app, { username: user.username, password: user.password, recovery_code: fresh[0]! })
  t.equal(recovery.statusCode, 200)
  bodies.push(['login with recovery code', recovery.body])
  bodies.push(['disable wrong code', (await post('/tfa/disable', user.token, { totp: wrongCode(secret, clock.now()) })).body])
  bodies.push(['enable while on', (await post('/tfa/enable', user.token)).body])
  clock.advance(STEP_MS)
  const disable = await post('/tfa/disable', user.token, { totp: generateTotpCode(secret, clock.now()) })
  t.equal(disable.statusCode, 200)
  bodies.push(['disable', disable.body])
  bodies.push(['GET /tfa after disable', (await status(user.token)).body])

  t.equal(bodies.length, 11)
  for (const [label, body] of bodies) t.same(leaks(body, secret, all), [], `${label}: no secret, no recovery code`)
  // The check itself works: the responses meant to carry them do.
  t.ok(leaks(enable.body, secret, []).length > 0)
  t.ok(fresh.every(code => leaks(regen.body, secret, [code]).length > 0))
})
