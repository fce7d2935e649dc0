import t from 'tap'
import type { App } from '../../src/app.js'
import { buildTestApp, createTestDatabase, createTestRedis, sharedEnv, TestClock, testConfig } from '../helper.js'
import { bearer, countStatuses, createTfaUser, DEFAULT_PASSWORD, login, loginWithReceipt, randomUsername, RECEIPT_INVALID_BODY, receiptOf, register, TFA_LOCKED_BODY, TFA_REQUIRED_BODY, wrongCode } from '../flows.js'
import { killClientsNamed, waitFor } from '../sessions/redis-helpers.js'

// Instances are stateless: three of them behind a load balancer share PostgreSQL and Redis (a node,
// or the cluster under npm run test:cluster), and must agree on used codes, failures, locks and
// rate limits. Requests are spread round-robin, as a balancer would.
const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const config = testConfig(sharedEnv(databaseUrl, { TFA_MAX_FAILURES: '5' }))
const instances: App[] = []
for (let i = 0; i < 3; i++) instances.push(await buildTestApp(t, config, { now: clock.now }))
const pick = (i: number) => instances[i % instances.length]!

t.test('a code is accepted once across all three instances (30 concurrent logins)', async (t) => {
  const user = await createTfaUser(pick(0), clock)
  const code = user.code()
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) =>
    login(pick(i), { username: user.username, password: user.password, totp: code })))
  const statuses = countStatuses(responses)
  t.equal(statuses[200], 1, 'exactly one login')
  // Replays count as failures, so after five of them the factor locks: 401s, then 429s.
  t.equal((statuses[401] ?? 0) + (statuses[429] ?? 0), 29, 'the rest refused')
  t.ok(responses.filter(r => r.statusCode !== 200).every(r => r.body === TFA_REQUIRED_BODY || r.body === TFA_LOCKED_BODY))
})

t.test('a login receipt completes one login across all three instances (30 concurrent, same receipt and code)', async (t) => {
  const user = await createTfaUser(pick(0), clock)
  const receipt = receiptOf(await login(pick(0), { username: user.username, password: user.password }))
  const code = user.code()
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => loginWithReceipt(pick(i), { receipt, totp: code })))
  t.equal(countStatuses(responses)[200], 1, 'exactly one login')
  t.ok(responses.filter(r => r.statusCode !== 200).every(r => r.body === TFA_REQUIRED_BODY || r.body === RECEIPT_INVALID_BODY), 'the rest: the code again, or a receipt used up')
  t.equal((await loginWithReceipt(pick(2), { receipt, totp: user.code() })).body, RECEIPT_INVALID_BODY, 'spent everywhere')

  // Different right codes (recovery codes) over one receipt: still one login.
  const second = receiptOf(await login(pick(1), { username: user.username, password: user.password }))
  const codes = user.recoveryCodes.slice(0, 6)
  const raced = await Promise.all(codes.map((recoveryCode, i) => loginWithReceipt(pick(i), { receipt: second, recovery_code: recoveryCode })))
  t.equal(countStatuses(raced)[200], 1, 'one login from six right recovery codes')
})

t.test('failures and the lock are shared: 5 wrong codes over 3 instances lock all of them', async (t) => {
  const user = await createTfaUser(pick(1), clock)
  for (let i = 0; i < 4; i++) {
    const res = await login(pick(i), { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
    t.equal(res.body, TFA_REQUIRED_BODY, `failure ${i + 1} on instance ${i % 3}`)
  }
  t.equal(await pick(2).secondFactor.failures(user.id), 4, 'every instance sees the same count')
  const fifth = await login(pick(4), { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  t.equal(fifth.statusCode, 429, 'the fifth failure locks')
  for (const [i, app] of instances.entries()) {
    const res = await login(app, { username: user.username, password: user.password, totp: user.code() })
    t.equal(res.body, TFA_LOCKED_BODY, `instance ${i} refuses even the right code`)
    t.match(String(res.headers['retry-after']), /^[0-9]+$/)
  }
})

t.test('rate limits are shared: per client IP and per username, across instances', async (t) => {
  // A second trio on the same database and Redis, with real limits.
  const limited = testConfig(sharedEnv(databaseUrl, { RATE_LIMIT_LOGIN_MAX: '5', RATE_LIMIT_TFA_MAX: '3' }))
  const trio: App[] = []
  for (let i = 0; i < 3; i++) trio.push(await buildTestApp(t, limited, { now: clock.now }))
  const attempt = (i: number, username: string, remoteAddress: string) => trio[i % 3]!.inject({
    method: 'POST', url: '/login', remoteAddress, payload: { username, password: 'wrong password here' }
  })

  const byIp = []
  for (let i = 0; i < 7; i++) byIp.push((await attempt(i, randomUsername(), '203.0.113.7')).statusCode)
  t.same(byIp, [401, 401, 401, 401, 401, 429, 429], 'one address: 5 answered, then 429 on whichever instance')

  const victim = randomUsername()
  const byUser = []
  for (let i = 0; i < 7; i++) byUser.push((await attempt(i, victim, `198.51.100.${i + 1}`)).statusCode)
  t.same(byUser, [401, 401, 401, 401, 401, 429, 429], 'one username from many addresses: 5 answered, then 429')

  // The code routes: per user, whatever the address.
  const owner = await createTfaUser(trio[0]!, clock)
  const byAccount = []
  for (let i = 0; i < 5; i++) {
    const res = await trio[i % 3]!.inject({
      method: 'POST', url: '/tfa/recovery-codes', remoteAddress: `192.0.2.${i + 1}`, headers: { authorization: `Bearer ${owner.token}` }, payload: { totp: '000000' }
    })
    byAccount.push(res.statusCode)
  }
  t.same(byAccount.slice(3), [429, 429], 'one account from many addresses: 3 code attempts, then 429')
})

interface Tokens { access_token: string, session_id: string }
const me = async (app: App, token: string) => await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })

t.test('a session ended on one instance is refused by the other two within a second', async (t) => {
  const user = await register(pick(0), randomUsername(), DEFAULT_PASSWORD)
  const session = (await login(pick(0), { username: user.username, password: user.password })).json() as Tokens
  for (const [i, app] of instances.entries()) t.equal((await me(app, session.access_token)).statusCode, 200, `instance ${i} accepts the token`)
  t.equal((await pick(0).inject({ method: 'POST', url: '/logout', headers: bearer(session.access_token) })).statusCode, 204, 'logged out on instance 0')
  const took = await waitFor(async () => (await me(pick(1), session.access_token)).statusCode === 401 && (await me(pick(2), session.access_token)).statusCode === 401, 1000, 'instances 1 and 2 refuse it')
  t.ok(took < 1000, `refused everywhere after ${took} ms`)
})

t.test('an instance that lost its feed answers 503 rather than guess, then honours what was ended while it was away', async (t) => {
  const away = pick(2)
  const user = await register(pick(0), randomUsername(), DEFAULT_PASSWORD)
  const ended = (await login(pick(0), { username: user.username, password: user.password })).json() as Tokens
  const kept = (await login(pick(0), { username: user.username, password: user.password })).json() as Tokens
  t.equal((await me(away, ended.access_token)).statusCode, 200)
  const admin = createTestRedis()
  t.teardown(() => admin.disconnect())
  await admin.ping() // a cluster client knows its nodes only once connected
  t.equal(await killClientsNamed(admin, away.revocations.connectionName), 1, 'instance 2\'s feed connection killed')
  await waitFor(() => !away.revocations.healthy, 1000, 'instance 2 notices')
  const meanwhile = await me(away, kept.access_token)
  t.equal(meanwhile.statusCode, 503, 'while it can\'t hear the others, it refuses to trust its list')
  t.equal(meanwhile.headers['retry-after'], '1')
  // Ended on instance 0 while instance 2 can't hear it.
  t.equal((await pick(0).inject({ method: 'DELETE', url: `/sessions/${ended.session_id}`, headers: bearer(kept.access_token) })).statusCode, 204)
  await waitFor(() => away.revocations.healthy, 5000, 'instance 2 is back')
  t.equal((await me(away, ended.access_token)).statusCode, 401, 'it caught up: the session ended while it was away is refused')
  t.equal((await me(away, kept.access_token)).statusCode, 200, 'and the one that lives is served again')
})
