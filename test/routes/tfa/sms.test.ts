import t from 'tap'
import { SMS_CODE_TTL_SECONDS } from '../../../src/auth/sms-codes.js'
import { ensureAdmin } from '../../../src/auth/admin.js'
import { errorBody, ErrorCatalogue } from '../../../src/errors.js'
import { Cluster } from 'ioredis'
import { buildTestApp, createTestDatabase, createTestRedis, TestClock, testConfig } from '../../helper.js'
import { amrOf, bearer, countStatuses, createTfaUser, DEFAULT_PASSWORD as PASSWORD, enrolSms, INVALID_CREDENTIALS_BODY, INVALID_TOKEN_BODY, login, loginToken, plainUser, randomPhone, randomUsername, register, TFA_LOCKED_BODY, TFA_REQUIRED_BODY } from '../../flows.js'
import { startSmsReceiver } from '../../sms-receiver.js'

const METHOD_ACTIVE_BODY = JSON.stringify(errorBody(409, ErrorCatalogue.tfaMethodActive.message))
const ALREADY_ENABLED_BODY = JSON.stringify(errorBody(409, ErrorCatalogue.tfaAlreadyEnabled.message))
const MINUTE = 60_000

const receiver = await startSmsReceiver(t)
const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const config = testConfig({ DATABASE_URL: databaseUrl, ...receiver.env })
const app = await buildTestApp(t, config, { now: clock.now })

const post = async (url: string, token: string, payload?: Record<string, unknown>) =>
  await app.inject({ method: 'POST', url, headers: bearer(token), ...(payload !== undefined ? { payload } : {}) })

/** Right password, no code: the documented 401 and (throttle permitting) an SMS. */
async function requestLoginCode (username: string, phone: string) {
  const res = await login(app, { username, password: PASSWORD })
  return { res, code: receiver.lastCode(phone) }
}

t.test('enrolment: a number, a code by SMS, and the code switches SMS two-factor on', async (t) => {
  const user = await plainUser(app)
  const { token } = user
  const phone = randomPhone()

  for (const bad of ['0151 2345678', '+0151234567', '+49', '4915123456789', '+49 151 2345678', '+491512345678901234']) {
    t.equal((await post('/tfa/sms/phone', token, { phone: bad })).statusCode, 400, `${bad} is not E.164`)
  }
  t.equal(receiver.messages.length, 0, 'nothing sent for a bad number')

  const start = await post('/tfa/sms/phone', token, { phone })
  t.equal(start.statusCode, 202, start.body)
  t.same(start.json(), { phone: `+49${'•'.repeat(phone.length - 5)}${phone.slice(-2)}`, expires_in: SMS_CODE_TTL_SECONDS })
  t.equal(receiver.to(phone).length, 1, 'one SMS')
  t.ok(receiver.to(phone)[0]?.signatureValid, 'signed with the webhook secret')
  t.match(receiver.to(phone)[0]?.message, /^[0-9]{6} is your twofold code to verify this phone number/)
  const status = (await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json()
  t.equal(status.enabled, false, 'not on before the code')
  t.equal(status.method, null)

  const code = receiver.lastCode(phone)
  const wrong = await post('/tfa/sms/verify', token, { code: code === '000000' ? '000001' : '000000' })
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.body, INVALID_TOKEN_BODY)
  t.equal((await post('/tfa/sms/verify', token, { code: 'abc' })).statusCode, 400, 'not even digits')

  const verified = await post('/tfa/sms/verify', token, { code, device_name: 'work phone' })
  t.equal(verified.statusCode, 200, verified.body)
  const body = verified.json()
  t.same({ ...body, recovery_codes: body.recovery_codes.length }, { enabled: true, method: 'sms', phone: start.json().phone, device_name: 'work phone', recovery_codes: 10 })
  t.same((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json(), {
    enabled: true, method: 'sms', phone: start.json().phone, pending: false, device_name: 'work phone', recovery_codes_left: 10
  }, 'GET /tfa shows the method and the masked number')
  t.equal((await post('/tfa/sms/verify', token, { code })).statusCode, 409, 'the code does not work twice (SMS is on now)')

  const row = await app.prisma.twoFactor.findUniqueOrThrow({ where: { userId: user.id } })
  t.notOk(JSON.stringify(row).includes(phone.slice(1)), 'the number is not stored in plain text')
  t.equal(row.method, 'sms')
})

t.test('a verification code is bound to its number and expires after 5 minutes', async (t) => {
  const user = await plainUser(app)
  const { token } = user
  const first = randomPhone()
  await post('/tfa/sms/phone', token, { phone: first })
  const firstCode = receiver.lastCode(first)
  clock.advance(MINUTE)
  const second = randomPhone()
  t.equal((await post('/tfa/sms/phone', token, { phone: second })).statusCode, 202, 'a new number replaces the pending one')
  t.equal((await post('/tfa/sms/verify', token, { code: firstCode })).statusCode, 400, 'the first number\'s code no longer fits')
  clock.advance(SMS_CODE_TTL_SECONDS * 1000)
  t.equal((await post('/tfa/sms/verify', token, { code: receiver.lastCode(second) })).statusCode, 400, 'expired after 5 minutes')
  t.equal((await post('/tfa/sms/verify', token, { code: receiver.lastCode(second) })).statusCode, 400, 'and gone')
  clock.advance(MINUTE)
  await post('/tfa/sms/phone', token, { phone: second })
  t.equal((await post('/tfa/sms/verify', token, { code: receiver.lastCode(second) })).statusCode, 200, 'a fresh code works')
  clock.advance(MINUTE)
})

t.test('a code fits only the number and the purpose it was sent for', async (t) => {
  const user = await plainUser(app)
  const { token } = user
  const phone = randomPhone()
  t.equal((await post('/tfa/sms/phone', token, { phone })).statusCode, 202)
  const code = receiver.lastCode(phone)
  t.notOk((await app.secondFactor.verifySms({ userId: user.id, phone: randomPhone(), purpose: 'verify' }, code)).ok, 'not for another number')
  t.notOk((await app.secondFactor.verifySms({ userId: user.id, phone, purpose: 'auth' }, code)).ok, 'not as a login code')
  t.equal((await post('/tfa/sms/verify', token, { code })).statusCode, 200, 'and still good for what it was sent for')
  clock.advance(MINUTE)
})

t.test('login with SMS on: only a right password sends a code; appended or in totp; once', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const sentBefore = receiver.to(user.phone).length

  const wrongPassword = await login(app, { username: user.username, password: 'wrong password here' })
  t.equal(wrongPassword.statusCode, 401)
  t.equal(wrongPassword.body, INVALID_CREDENTIALS_BODY)
  const wrongWithDigits = await login(app, { username: user.username, password: 'wrong password here123456' })
  t.equal(wrongWithDigits.body, INVALID_CREDENTIALS_BODY)
  t.equal(receiver.to(user.phone).length, sentBefore, 'a wrong password never sends an SMS')

  const { res: challenge, code } = await requestLoginCode(user.username, user.phone)
  t.equal(challenge.statusCode, 401)
  t.equal(challenge.body, TFA_REQUIRED_BODY, 'the documented 401')
  t.equal(challenge.headers['x-tfa-method'], 'sms', 'X-TFA-Method says which code to ask for')
  t.equal(wrongPassword.headers['x-tfa-method'], undefined, 'never after a wrong password')
  t.equal(receiver.to(user.phone).length, sentBefore + 1, 'and one SMS')
  t.match(receiver.to(user.phone).at(-1)?.message, new RegExp(`^${code} is your twofold login code`))

  const appended = await login(app, { username: user.username, password: PASSWORD + code })
  t.equal(appended.statusCode, 200, appended.body)
  t.same(amrOf(app, appended), ['pwd', 'sms', 'mfa'])
  const replay = await login(app, { username: user.username, password: PASSWORD + code })
  t.equal(replay.body, TFA_REQUIRED_BODY, 'a used code is refused')
  t.equal(receiver.to(user.phone).length, sentBefore + 1, 'inside the minute a retry sends nothing new')

  clock.advance(MINUTE)
  const second = await requestLoginCode(user.username, user.phone)
  t.equal(second.res.body, TFA_REQUIRED_BODY)
  const field = await login(app, { username: user.username, password: PASSWORD, totp: second.code })
  t.equal(field.statusCode, 200, 'the code in the totp field')
  clock.advance(MINUTE)
})

t.test('login codes expire after 5 minutes, and a new code replaces the old one', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const { code } = await requestLoginCode(user.username, user.phone)
  clock.advance(SMS_CODE_TTL_SECONDS * 1000)
  t.equal((await login(app, { username: user.username, password: PASSWORD, totp: code })).body, TFA_REQUIRED_BODY, 'expired')
  clock.advance(MINUTE)
  const first = await requestLoginCode(user.username, user.phone)
  clock.advance(MINUTE)
  const second = await requestLoginCode(user.username, user.phone)
  if (first.code !== second.code) {
    t.equal((await login(app, { username: user.username, password: PASSWORD, totp: first.code })).body, TFA_REQUIRED_BODY, 'the older code died with the newer one')
  }
  t.equal((await login(app, { username: user.username, password: PASSWORD, totp: second.code })).statusCode, 200)
  clock.advance(MINUTE)
})

t.test('the send throttle holds under a concurrent burst, across instances, and per hour', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const peer = await buildTestApp(t, config, { now: clock.now })
  const before = receiver.to(user.phone).length
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? app : peer).inject({ method: 'POST', url: '/login', payload: { username: user.username, password: PASSWORD } })))
  t.same(countStatuses(burst), { 401: 30 }, 'every attempt gets the documented 401')
  t.ok(burst.every(r => r.body === TFA_REQUIRED_BODY))
  t.equal(receiver.to(user.phone).length, before + 1, '30 concurrent logins on two instances send one SMS')

  const sendBurst = await Promise.all(Array.from({ length: 10 }, () => post('/tfa/sms/send', user.token)))
  t.same(countStatuses(sendBurst), { 429: 10 }, 'explicit sends inside the minute: 429')
  t.ok(Number(sendBurst[0]?.headers['retry-after']) > 0 && Number(sendBurst[0]?.headers['retry-after']) <= 60, 'with Retry-After')
  t.equal(sendBurst[0]?.body, JSON.stringify(errorBody(429, ErrorCatalogue.smsThrottled.message)))

  // The enrolment took one send this hour and the burst another: three more fit, then none.
  for (let i = 0; i < 3; i++) {
    clock.advance(MINUTE)
    t.equal((await post('/tfa/sms/send', user.token)).statusCode, 202, `send ${i + 3} of 5 this hour`)
  }
  clock.advance(MINUTE)
  const capped = await post('/tfa/sms/send', user.token)
  t.equal(capped.statusCode, 429, 'the sixth in an hour is refused')
  t.ok(Number(capped.headers['retry-after']) > 60, 'until the hour is over')
  const count = receiver.to(user.phone).length
  t.equal((await login(app, { username: user.username, password: PASSWORD })).body, TFA_REQUIRED_BODY, 'login still answers the 401')
  t.equal(receiver.to(user.phone).length, count, 'but sends nothing')
  clock.advance(60 * MINUTE)
  t.equal((await post('/tfa/sms/send', user.token)).statusCode, 202, 'a new hour')
  clock.advance(MINUTE)
})

t.test('wrong SMS codes count towards the same lock as TOTP; a locked account is sent nothing', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const { code } = await requestLoginCode(user.username, user.phone)
  const wrong = code === '111111' ? '222222' : '111111'
  for (let i = 0; i < 4; i++) {
    t.equal((await login(app, { username: user.username, password: PASSWORD, totp: wrong })).body, TFA_REQUIRED_BODY, `wrong code ${i + 1}`)
  }
  const locked = await login(app, { username: user.username, password: PASSWORD, totp: wrong })
  t.equal(locked.statusCode, 429, 'the fifth locks')
  t.equal(locked.body, TFA_LOCKED_BODY)
  t.equal((await login(app, { username: user.username, password: PASSWORD, totp: code })).statusCode, 429, 'the right code is refused while locked')
  clock.advance(MINUTE)
  const sent = receiver.to(user.phone).length
  t.equal((await login(app, { username: user.username, password: PASSWORD })).statusCode, 429, 'right password without code: locked')
  t.equal((await post('/tfa/sms/send', user.token)).statusCode, 429)
  t.equal(receiver.to(user.phone).length, sent, 'and no SMS while locked')
  await app.secondFactor.unlock(user.id)
  t.equal((await login(app, { username: user.username, password: PASSWORD, totp: code })).statusCode, 200, 'the unused code still works after the unlock')
  clock.advance(MINUTE)
})

t.test('one method at a time: switching needs the current one disabled first', async (t) => {
  const totpUser = await createTfaUser(app, clock)
  t.equal((await login(app, { username: totpUser.username, password: totpUser.password })).headers['x-tfa-method'], 'totp')
  const onTotp = await post('/tfa/sms/phone', totpUser.token, { phone: randomPhone() })
  t.equal(onTotp.statusCode, 409, 'SMS while TOTP is on')
  t.equal(onTotp.body, METHOD_ACTIVE_BODY)

  const smsUser = await enrolSms(app, clock, receiver)
  const totpOnSms = await post('/tfa/enable', smsUser.token)
  t.equal(totpOnSms.statusCode, 409, 'TOTP while SMS is on')
  t.equal(totpOnSms.body, METHOD_ACTIVE_BODY)
  const newNumber = await post('/tfa/sms/phone', smsUser.token, { phone: randomPhone() })
  t.equal(newNumber.statusCode, 409, 'another number while SMS is on')
  t.equal(newNumber.body, ALREADY_ENABLED_BODY)

  // Disabling SMS takes a code sent for it.
  const token = (await login(app, { username: smsUser.username, password: PASSWORD, totp: (await requestLoginCode(smsUser.username, smsUser.phone)).code })).json().access_token as string
  clock.advance(MINUTE)
  t.equal((await post('/tfa/disable', token, { totp: '123456' })).statusCode, 400, 'no code was sent: wrong')
  t.equal((await post('/tfa/sms/send', token)).statusCode, 202)
  const disabled = await post('/tfa/disable', token, { totp: receiver.lastCode(smsUser.phone) })
  t.equal(disabled.statusCode, 200, disabled.body)
  t.same((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json(), { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })
  t.equal((await login(app, { username: smsUser.username, password: PASSWORD })).statusCode, 200, 'the password alone logs in again')
  t.equal((await post('/tfa/sms/send', token)).statusCode, 409, 'nothing to send a code for')
  t.equal((await post('/tfa/enable', token)).statusCode, 200, 'and TOTP may now be enabled')
})

t.test('recovery codes work with SMS as the method', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const sent = receiver.to(user.phone).length
  const res = await login(app, { username: user.username, password: PASSWORD, recovery_code: user.recoveryCodes[0]! })
  t.equal(res.statusCode, 200, res.body)
  t.same(amrOf(app, res), ['pwd', 'mfa'])
  t.equal(receiver.to(user.phone).length, sent, 'no SMS when a recovery code is given')
  const token = res.json().access_token as string
  t.equal((await post('/tfa/disable', token, { recovery_code: user.recoveryCodes[1]! })).statusCode, 200, 'lost phone: disable with a recovery code')
})

t.test('protected actions with SMS: a password change takes a code sent for it', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const change = async (payload: Record<string, string>) => await app.inject({ method: 'POST', url: '/password', headers: bearer(user.token), payload })
  const sent = receiver.to(user.phone).length
  t.equal((await change({ current_password: 'not the password', new_password: 'another good password' })).statusCode, 400, 'wrong current password')
  t.equal(receiver.to(user.phone).length, sent, 'sends nothing')
  const challenge = await change({ current_password: PASSWORD, new_password: 'another good password' })
  t.equal(challenge.body, TFA_REQUIRED_BODY, 'right password, no code: the 401')
  t.equal(receiver.to(user.phone).length, sent + 1, 'and a code by SMS')
  const done = await change({ current_password: PASSWORD + receiver.lastCode(user.phone), new_password: 'another good password' })
  t.equal(done.statusCode, 204, done.body)
  clock.advance(MINUTE)
})

t.test('a failed delivery answers 503 and may be retried at once', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const sent = receiver.to(user.phone).length
  receiver.failNext(2)
  const failed = await login(app, { username: user.username, password: PASSWORD })
  t.equal(failed.statusCode, 503)
  t.equal(failed.body, JSON.stringify(errorBody(503, ErrorCatalogue.smsDeliveryFailed.message)))
  const retried = await requestLoginCode(user.username, user.phone)
  t.equal(retried.res.body, TFA_REQUIRED_BODY)
  t.equal(receiver.to(user.phone).length, sent + 1, 'the retry inside the minute is delivered')
  receiver.failNext(1)
  clock.advance(MINUTE)
  t.equal((await login(app, { username: user.username, password: PASSWORD })).body, TFA_REQUIRED_BODY, 'one gateway failure is retried by the transport')
  clock.advance(MINUTE)
})

t.test('SMS codes are kept only as keyed hashes in Redis', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const { code } = await requestLoginCode(user.username, user.phone)
  const redis = createTestRedis()
  t.teardown(() => redis.disconnect())
  // What an attacker with a Redis dump sees: every record of this user, whatever the store calls it.
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
  const records: Array<{ key: string, value: string, ttl: number }> = []
  for (const node of nodes) {
    for (const key of await node.keys(`${app.config.redisKeyPrefix}*${user.id}*`)) {
      const value = await node.type(key) === 'hash' ? JSON.stringify(await node.hgetall(key)) : String(await node.get(key))
      records.push({ key, value, ttl: await node.pttl(key) })
    }
  }
  t.ok(records.some(r => /^[0-9]+:[A-Za-z0-9_-]{43}$/.test(r.value)), 'a code record exists (expiry and keyed hash)')
  t.notOk(records.some(r => r.value.includes(code)), 'without the code')
  t.notOk(records.some(r => r.value.includes(user.phone.slice(1))), 'or the number')
  t.ok(records.every(r => r.ttl > 0), 'with an expiry (and so does every other record of the user)')
  clock.advance(MINUTE)
})

t.test('automation accounts: SMS enrolment needs the confirmation too', async (t) => {
  const username = randomUsername()
  await app.inject({ method: 'POST', url: '/users', payload: { username, password: PASSWORD, kind: 'automation' } })
  const token = await loginToken(app, { username, password: PASSWORD })
  const phone = randomPhone()
  const refused = await post('/tfa/sms/phone', token, { phone })
  t.equal(refused.statusCode, 409)
  t.equal(refused.body, JSON.stringify(errorBody(409, ErrorCatalogue.automationAccount.message)))
  t.equal(receiver.to(phone).length, 0, 'and nothing is sent')
  t.equal((await post('/tfa/sms/phone', token, { phone, confirm_automation: true })).statusCode, 202)
})

t.test('without SMS_TRANSPORT the SMS routes say it is not configured', async (t) => {
  const plain = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl }), { now: clock.now })
  const { token } = await plainUser(plain)
  const res = await plain.inject({ method: 'POST', url: '/tfa/sms/phone', headers: bearer(token), payload: { phone: randomPhone() } })
  t.equal(res.statusCode, 501)
  t.equal(res.body, JSON.stringify(errorBody(501, ErrorCatalogue.smsNotConfigured.message)))
})

t.test('support desk: the admin view shows the SMS device; a reset after a lost phone switches it off', async (t) => {
  const adminName = randomUsername()
  await ensureAdmin(app, adminName, PASSWORD)
  const adminToken = await loginToken(app, { username: adminName, password: PASSWORD })
  const user = await enrolSms(app, clock, receiver)
  const view = await app.inject({ method: 'GET', url: `/admin/users/${user.id}`, headers: bearer(adminToken) })
  t.same(view.json().tfa.devices, [{ name: 'unnamed', type: 'sms' }])
  t.notOk(view.body.includes(user.phone.slice(3, -2)), 'the admin view does not show the number')
  t.equal((await post(`/admin/users/${user.id}/tfa/reset`, adminToken)).statusCode, 200)
  const sent = receiver.to(user.phone).length
  t.equal((await login(app, { username: user.username, password: PASSWORD })).statusCode, 200, 'the password alone logs in')
  t.equal(receiver.to(user.phone).length, sent, 'and no SMS goes to the lost phone')
})

t.test('mandatory TFA: an enrolment-only token may enrol with SMS', async (t) => {
  const strict = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED: 'true', ...receiver.env }), { now: clock.now })
  const username = randomUsername()
  await register(strict, username, PASSWORD)
  const first = await login(strict, { username, password: PASSWORD })
  t.equal(first.json().tfa_enrollment_required, true)
  const token = first.json().access_token as string
  const phone = randomPhone()
  const start = await strict.inject({ method: 'POST', url: '/tfa/sms/phone', headers: bearer(token), payload: { phone } })
  t.equal(start.statusCode, 202, start.body)
  const verify = await strict.inject({ method: 'POST', url: '/tfa/sms/verify', headers: bearer(token), payload: { code: receiver.lastCode(phone) } })
  t.equal(verify.statusCode, 200, verify.body)
  t.equal((await strict.inject({ method: 'POST', url: '/tfa/sms/send', headers: bearer(token) })).statusCode, 403, 'other routes stay closed to the enrolment token')
  clock.advance(MINUTE)
  t.equal((await login(strict, { username, password: PASSWORD })).body, TFA_REQUIRED_BODY)
  const full = await login(strict, { username, password: PASSWORD, totp: receiver.lastCode(phone) })
  t.equal(full.statusCode, 200)
  t.notOk(full.json().tfa_enrollment_required, 'a full token now')
  clock.advance(MINUTE)
})

t.test('switching SMS on ends the other sessions; the enrolling one goes on', async (t) => {
  const user = await plainUser(app)
  const other = await loginToken(app, { username: user.username, password: user.password })
  const phone = randomPhone()
  t.equal((await post('/tfa/sms/phone', user.token, { phone })).statusCode, 202)
  t.equal((await post('/tfa/sms/verify', user.token, { code: receiver.lastCode(phone) })).statusCode, 200)
  const me = async (token: string) => (await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode
  t.equal(await me(other), 401, 'the session that never passed the factor ends')
  t.equal(await me(user.token), 200, 'the one that enrolled stays')
  clock.advance(MINUTE)
})
