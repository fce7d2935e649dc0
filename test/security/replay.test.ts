import t from 'tap'
import { generateTotpCode } from '../../src/auth/totp.js'
import { buildTestApp, createTestDatabase, sharedEnv, TestClock, testConfig } from '../helper.js'
import { countStatuses, createTfaUser, login, STEP_MS, TFA_REQUIRED_BODY } from '../flows.js'

// One deployment of two instances: same database, same Redis prefix, same secrets, one clock.
// A high failure limit keeps the lock out of the way, so every refusal below is a replay refusal.
const clock = new TestClock()
const config = testConfig(sharedEnv(await createTestDatabase(t), { TFA_MAX_FAILURES: '1000' }))
const app = await buildTestApp(t, config, { now: clock.now })
const other = await buildTestApp(t, config, { now: clock.now })

t.test('the code that activated TFA is refused at login (same clock, no advance)', async (t) => {
  const user = await createTfaUser(app, clock, { advance: false })
  const inField = await login(app, { username: user.username, password: user.password, totp: user.validatingCode })
  t.equal(inField.statusCode, 401)
  t.equal(inField.body, TFA_REQUIRED_BODY)
  const appended = await login(app, { username: user.username, password: user.password + user.validatingCode })
  t.equal(appended.body, TFA_REQUIRED_BODY)
  const onOther = await login(other, { username: user.username, password: user.password, totp: user.validatingCode })
  t.equal(onOther.body, TFA_REQUIRED_BODY, 'nor on the other instance')
  // The refusal is about the step being used, not about the code being wrong:
  clock.advance(STEP_MS)
  const next = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(next.statusCode, 200)
})

t.test('a code accepted once is refused after, in either form and on either instance', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: code })).statusCode, 200)
  for (const [instance, body] of [
    [app, { username: user.username, password: user.password, totp: code }],
    [app, { username: user.username, password: user.password + code }],
    [other, { username: user.username, password: user.password, totp: code }],
    [other, { username: user.username, password: user.password + code }]
  ] as const) {
    const res = await login(instance, body)
    t.equal(res.statusCode, 401)
    t.equal(res.body, TFA_REQUIRED_BODY)
  }
})

t.test('an older code still in the window is refused after a newer one', async (t) => {
  const user = await createTfaUser(app, clock)
  const current = user.code()
  const newer = generateTotpCode(user.secret, clock.now() + STEP_MS) // the next step, inside window 1
  t.not(current, newer)
  t.equal((await login(app, { username: user.username, password: user.password, totp: newer })).statusCode, 200)
  const older = await login(app, { username: user.username, password: user.password, totp: current })
  t.equal(older.statusCode, 401)
  t.equal(older.body, TFA_REQUIRED_BODY, 'the current step is older than the one used')

  // And the previous step's code (window -1) after the current one.
  clock.advance(3 * STEP_MS)
  const now = user.code()
  const previous = generateTotpCode(user.secret, clock.now() - STEP_MS)
  t.not(now, previous)
  t.equal((await login(app, { username: user.username, password: user.password, totp: now })).statusCode, 200)
  const res = await login(other, { username: user.username, password: user.password, totp: previous })
  t.equal(res.body, TFA_REQUIRED_BODY)
})

t.test('20 concurrent logins with one valid code: exactly one 200', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    login(app, i % 2 === 0
      ? { username: user.username, password: user.password, totp: code }
      : { username: user.username, password: user.password + code })))
  t.same(countStatuses(responses), { 200: 1, 401: 19 })
  for (const res of responses.filter(r => r.statusCode !== 200)) t.equal(res.body, TFA_REQUIRED_BODY)
})

t.test('10 + 10 concurrent logins on two instances with one valid code: exactly one 200 in total', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const body = { username: user.username, password: user.password, totp: code }
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => login(i % 2 === 0 ? app : other, body)))
  t.same(countStatuses(responses), { 200: 1, 401: 19 })
  for (const res of responses.filter(r => r.statusCode !== 200)) t.equal(res.body, TFA_REQUIRED_BODY)
})

t.test('a code used at /tfa/recovery-codes on one instance cannot then log in on the other', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const regen = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: { authorization: `Bearer ${user.token}` }, payload: { totp: code } })
  t.equal(regen.statusCode, 200)
  const res = await login(other, { username: user.username, password: user.password, totp: code })
  t.equal(res.body, TFA_REQUIRED_BODY)
})
