import t from 'tap'
import type { App } from '../../src/app.js'
import { buildTestApp, createTestDatabase, sharedEnv, TestClock, testConfig } from '../helper.js'
import { countStatuses, createTfaUser, login, randomUsername, TFA_LOCKED_BODY, TFA_REQUIRED_BODY, wrongCode } from '../flows.js'

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
