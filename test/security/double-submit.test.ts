import { setTimeout as realSleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { countStatuses, createTfaUser, login, TFA_LOCKED_BODY, TFA_REQUIRED_BODY, wrongCode } from '../flows.js'

// A double-click or a client's retry sends a code that was just used: it must be refused (no
// code works twice) without counting toward the lock, or users lock themselves out. Wrong codes
// still count, and repeated lockouts lengthen the lock.
const clock = new TestClock()
const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_MAX_FAILURES: '5' }), { now: clock.now })

t.test('five duplicate submissions of the code that just logged in: refused, not counted, no lock', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: code })).statusCode, 200, 'the first submit logs in')
  for (let i = 1; i <= 5; i++) {
    const again = await login(app, { username: user.username, password: user.password, totp: code })
    t.equal(again.body, TFA_REQUIRED_BODY, `duplicate ${i}: the documented 401`)
  }
  const burst = await Promise.all(Array.from({ length: 10 }, () => login(app, { username: user.username, password: user.password, totp: code })))
  t.same(countStatuses(burst), { 401: 10 }, 'a burst of retries: all 401, none 429')
  t.equal(await app.secondFactor.failures(user.id), 0, 'nothing counted')
  t.equal(await app.secondFactor.lockedMs(user.id), 0, 'not locked')
  clock.advance(30_000)
  t.equal((await login(app, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200, 'the next code logs in')
  await app.audit.flush()
  const reasons = (await app.prisma.securityEvent.findMany({ where: { userId: user.id, type: 'login.failed' } })).map(e => (e.detail as { reason: string }).reason)
  t.ok(reasons.length === 15 && reasons.every(r => r === 'replayed'), 'audited as replays, not as wrong codes')
})

t.test('the losers of a recovery-code race are not counted either', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.recoveryCodes[0]!
  const racers = await Promise.all(Array.from({ length: 8 }, () => login(app, { username: user.username, password: user.password, recovery_code: code })))
  t.same(countStatuses(racers), { 200: 1, 401: 7 }, 'one wins, the rest get the documented 401')
  t.ok(racers.filter(r => r.statusCode === 401).every(r => r.body === TFA_REQUIRED_BODY))
  t.equal(await app.secondFactor.failures(user.id), 0, 'no failure counted')
  const unknown = await login(app, { username: user.username, password: user.password, recovery_code: 'aaaa-bbbb-cccc-dddd' })
  t.equal(unknown.body, TFA_REQUIRED_BODY)
  t.equal(await app.secondFactor.failures(user.id), 1, 'a code that was never one of theirs still counts')
})

t.test('wrong codes still count and lock', async (t) => {
  const user = await createTfaUser(app, clock)
  for (let i = 1; i <= 4; i++) t.equal((await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })).body, TFA_REQUIRED_BODY)
  const fifth = await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  t.equal(fifth.body, TFA_LOCKED_BODY, 'the fifth wrong code locks')
})

t.test('repeated lockouts double the lock (capped), and a success starts over', async (t) => {
  // Short locks on the real Redis, so the test can wait them out.
  const quick = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_MAX_FAILURES: '2', TFA_LOCK_SECONDS: '1', TFA_LOCK_MAX_SECONDS: '2' }), { now: clock.now })
  const user = await createTfaUser(quick, clock)
  const wrong = async () => {
    clock.advance(1) // events in order: each at its own millisecond of the test clock
    return await login(quick, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  }
  // Redis ends a lock on its own clock, the lock's copy in the database (issue 17) on the
  // service's: both move.
  const sleep = async (ms: number) => {
    await realSleep(ms)
    clock.advance(ms)
  }
  await wrong()
  const first = await wrong()
  t.equal(first.statusCode, 429)
  t.equal(first.headers['retry-after'], '1', 'first lockout: TFA_LOCK_SECONDS')
  await sleep(1100)
  await wrong()
  const second = await wrong()
  t.equal(second.headers['retry-after'], '2', 'the next one in a row: doubled')
  await sleep(2100)
  await wrong()
  const third = await wrong()
  t.equal(third.headers['retry-after'], '2', 'capped at TFA_LOCK_MAX_SECONDS')
  await sleep(2100)
  clock.advance(30_000)
  t.equal((await login(quick, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200, 'a success…')
  await wrong()
  t.equal((await wrong()).headers['retry-after'], '1', '…and the next lock is the first again')
  await quick.audit.flush()
  const locks = (await quick.prisma.securityEvent.findMany({ where: { userId: user.id, type: 'tfa.locked' }, orderBy: { createdAt: 'asc' } })).map(e => (e.detail as { lock_seconds: number }).lock_seconds)
  t.same(locks, [1, 2, 2, 1], 'each lock audited with its length')
})
