import t from 'tap'
import { buildApp } from '../../src/app.js'
import { DependencyUnavailableError } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, sharedEnv, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, login, receiptOf, TFA_REQUIRED_BODY, UNAVAILABLE_BODY } from '../flows.js'

// Nothing listens on this port: the instance built on it has lost its Redis.
const DEAD_REDIS_URL = 'redis://127.0.0.1:6391'

// Two instances of one deployment on one database, with the same secrets and key prefix: one
// with a healthy Redis, one whose Redis is down.
const clock = new TestClock()
const env = sharedEnv(await createTestDatabase(t))
const healthy = await buildTestApp(t, testConfig(env), { now: clock.now })
// Not buildTestApp: its teardown would try to clean keys on the dead Redis.
const dead = await buildApp(testConfig({ ...env, REDIS_URL: DEAD_REDIS_URL }), { now: clock.now })
t.teardown(async () => { await dead.close() })
await dead.ready()

t.test('the dead instance really has no Redis', async (t) => {
  t.equal(dead.store.kind, 'redis')
  t.not(dead.redis?.status, 'ready')
  await t.rejects(dead.store.ping(), DependencyUnavailableError)
})

t.test('login with a valid code on the instance without Redis: 503, never 200; the code still works once elsewhere', async (t) => {
  const user = await createTfaUser(healthy, clock)
  const code = user.code()

  const bodies: Array<Record<string, string>> = [
    { username: user.username, password: user.password, totp: code },
    { username: user.username, password: user.password + code },
    { username: user.username, password: user.password, recovery_code: user.recoveryCodes[0]! },
    { username: user.username, password: user.password }
  ]
  for (const body of bodies) {
    const res = await login(dead, body)
    t.equal(res.statusCode, 503, `503 for ${Object.keys(body).join('+')}`)
    t.equal(res.body, UNAVAILABLE_BODY, 'the envelope')
    t.match(String(res.headers['retry-after']), /^[0-9]+$/, 'with Retry-After')
  }

  // The HTTP path may fail at the rate limiter before it reaches the code check; the login
  // service itself must fail too rather than accept a code it could not record as used.
  await t.rejects(dead.accounts.login({ username: user.username, password: user.password, totp: code }), DependencyUnavailableError)
  await t.rejects(dead.secondFactor.verifyTotp(user.id, user.secret, code), DependencyUnavailableError)

  // Nothing was recorded or spent: the same code logs in exactly once on the healthy instance.
  const ok = await login(healthy, { username: user.username, password: user.password, totp: code })
  t.equal(ok.statusCode, 200)
  const again = await login(healthy, { username: user.username, password: user.password, totp: code })
  t.equal(again.body, TFA_REQUIRED_BODY)
  t.equal((await healthy.inject({ method: 'GET', url: '/tfa', headers: bearer(user.token) })).json().recovery_codes_left, 10, 'no recovery code spent')
})

t.test('the second step on the instance without Redis: 503, and the receipt and code still work elsewhere', async (t) => {
  const user = await createTfaUser(healthy, clock)
  const receipt = receiptOf(await login(healthy, { username: user.username, password: user.password }))
  const code = user.code()
  const res = await dead.inject({ method: 'POST', url: '/login/tfa', payload: { receipt, totp: code } })
  t.equal(res.statusCode, 503, 'neither the limits nor the code could be counted: fail closed')
  t.equal(res.body, UNAVAILABLE_BODY)
  t.match(String(res.headers['retry-after']), /^[0-9]+$/)
  await t.rejects(dead.accounts.loginWithReceipt(user.id, { receipt, totp: code }, {}, Promise.resolve(0)), DependencyUnavailableError)
  const ok = await healthy.inject({ method: 'POST', url: '/login/tfa', payload: { receipt, totp: code } })
  t.equal(ok.statusCode, 200, 'nothing was taken: the same receipt and code log in once on the healthy instance')
})

t.test('disable on the instance without Redis: 503 and TFA stays on', async (t) => {
  const user = await createTfaUser(healthy, clock)
  const res = await dead.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: { totp: user.code() } })
  t.equal(res.statusCode, 503)
  t.equal(res.body, UNAVAILABLE_BODY)
  await t.rejects(dead.tfa.disable(user.id, { totp: user.code() }), DependencyUnavailableError)
  t.equal((await healthy.inject({ method: 'GET', url: '/tfa', headers: bearer(user.token) })).json().enabled, true)
  const ok = await login(healthy, { username: user.username, password: user.password, totp: user.code() })
  t.equal(ok.statusCode, 200, 'the code was not spent')
})
