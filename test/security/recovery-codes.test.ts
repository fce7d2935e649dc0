import t from 'tap'
import { hashRecoveryCode, normalizeRecoveryCode } from '../../src/auth/recovery-codes.js'
import { buildTestApp, createTestDatabase, sharedEnv, TestClock, testConfig } from '../helper.js'
import { amrOf, bearer, countStatuses, createTfaUser, login, TFA_REQUIRED_BODY } from '../flows.js'

// A high failure limit: the concurrent test's 19 losers must each be a plain refusal, not a lock.
const clock = new TestClock()
const app = await buildTestApp(t, testConfig(sharedEnv(await createTestDatabase(t), { TFA_MAX_FAILURES: '1000' })), { now: clock.now })

const left = async (token: string) => (await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json().recovery_codes_left as number

t.test('a recovery code is single use', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.recoveryCodes[0]!
  const first = await login(app, { username: user.username, password: user.password, recovery_code: code })
  t.equal(first.statusCode, 200)
  t.same(amrOf(app, first), ['pwd', 'mfa'])
  for (const form of [code, code.toUpperCase(), code.replace(/-/g, '')]) {
    const again = await login(app, { username: user.username, password: user.password, recovery_code: form })
    t.equal(again.statusCode, 401)
    t.equal(again.body, TFA_REQUIRED_BODY, `reuse refused as ${form}`)
  }
  // Spent at /tfa/disable too.
  const disable = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: { recovery_code: code } })
  t.equal(disable.statusCode, 400)
  t.equal(await left(user.token), 9)
  // The others are untouched.
  t.equal((await login(app, { username: user.username, password: user.password, recovery_code: user.recoveryCodes[1]! })).statusCode, 200)
})

t.test('disabling with a recovery code deletes every code', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.recoveryCodes[2]!
  const disable = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: { recovery_code: code } })
  t.equal(disable.statusCode, 200)
  t.equal(await app.prisma.recoveryCode.count({ where: { userId: user.id } }), 0, 'all codes deleted with TFA')
})

t.test('20 concurrent logins with one recovery code: exactly one 200', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.recoveryCodes[5]!
  const forms = [code, code.toUpperCase(), code.replace(/-/g, ''), code.replace(/-/g, ' ')]
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    login(app, { username: user.username, password: user.password, recovery_code: forms[i % forms.length]! })))
  t.same(countStatuses(responses), { 200: 1, 401: 19 })
  for (const res of responses.filter(r => r.statusCode !== 200)) t.equal(res.body, TFA_REQUIRED_BODY)
  t.equal(await left(user.token), 9, 'exactly one code spent')
  const row = await app.prisma.recoveryCode.findMany({ where: { userId: user.id, usedAt: { not: null } } })
  t.equal(row.length, 1)
})

t.test('regenerating invalidates every old code', async (t) => {
  const user = await createTfaUser(app, clock)
  const regen = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(user.token), payload: { totp: user.code() } })
  t.equal(regen.statusCode, 200)
  const { recovery_codes: fresh } = regen.json() as { recovery_codes: string[] }
  for (const old of user.recoveryCodes) {
    const res = await login(app, { username: user.username, password: user.password, recovery_code: old })
    t.equal(res.body, TFA_REQUIRED_BODY, 'an old code is refused')
  }
  t.equal(await left(user.token), 10)
  for (const code of fresh.slice(0, 3)) {
    t.equal((await login(app, { username: user.username, password: user.password, recovery_code: code })).statusCode, 200, 'a new code works')
  }
  t.equal(await left(user.token), 7)
})

t.test('normalisation: upper case, without dashes, with spaces', async (t) => {
  const user = await createTfaUser(app, clock)
  const [a, b, c, d] = user.recoveryCodes as [string, string, string, string]
  for (const [label, form] of [
    ['upper case', a.toUpperCase()],
    ['without dashes', b.replace(/-/g, '')],
    ['upper case without dashes', c.toUpperCase().replace(/-/g, '')],
    ['spaces instead of dashes', ` ${d.replace(/-/g, ' ')} `]
  ] as const) {
    const res = await login(app, { username: user.username, password: user.password, recovery_code: form })
    t.equal(res.statusCode, 200, label)
    t.same(amrOf(app, res), ['pwd', 'mfa'])
  }
  t.equal(await left(user.token), 6)
})

t.test('normalisation maps Crockford look-alikes and nothing else', async (t) => {
  t.equal(normalizeRecoveryCode('AB0C-1DEF-GH10-JK01'), 'ab0c1defgh10jk01')
  t.equal(normalizeRecoveryCode('abOc-IdeF-gHlo-jkoL'), 'ab0c1defgh10jk01', 'O → 0, I and L → 1')
  t.equal(hashRecoveryCode('ABOC-IDEF-GHLO-JKOL'), hashRecoveryCode('ab0c1defgh10jk01'))
  t.not(hashRecoveryCode('ab0c1defgh10jk01'), hashRecoveryCode('ab0c1defgh10jk02'))
})

t.test("one user's recovery code does not work for another user", async (t) => {
  const alice = await createTfaUser(app, clock)
  const bob = await createTfaUser(app, clock)
  const res = await login(app, { username: bob.username, password: bob.password, recovery_code: alice.recoveryCodes[0]! })
  t.equal(res.body, TFA_REQUIRED_BODY)
  t.equal(await left(alice.token), 10, "alice's code was not spent")
  t.equal((await login(app, { username: alice.username, password: alice.password, recovery_code: alice.recoveryCodes[0]! })).statusCode, 200)
})
