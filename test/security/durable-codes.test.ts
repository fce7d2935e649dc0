import t from 'tap'
import type { Config } from '../../src/config/config.js'
import { buildTestApp, createTestDatabase, createTestRedis, sharedEnv, TestClock, testConfig } from '../helper.js'
import { bearer, countStatuses, createTfaUser, login, loginWithReceipt, receiptOf, TFA_REQUIRED_BODY, wrongCode } from '../flows.js'

// A code must never work twice, also when the store behind the check lost its data: Redis
// restarted without persistence, the embedded mode restarted, or a disable racing a login with
// the same code. PostgreSQL keeps the last accepted step (and a lock's end) as a floor.
const databaseUrl = await createTestDatabase(t)
const clock = new TestClock()
const env = sharedEnv(databaseUrl)
const config = testConfig(env)
const app = await buildTestApp(t, config, { now: clock.now })
const redis = createTestRedis()
t.teardown(() => { redis.disconnect() })

/** What a Redis restarted without persistence looks like to this deployment: none of its keys. */
async function flushRedis (cfg: Config) {
  const keys = await redis.keys(`${cfg.redisKeyPrefix}*`)
  for (const key of keys) await redis.del(key)
}

t.test('Redis emptied: a code accepted before is refused, the next one works', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: code })).statusCode, 200)
  await flushRedis(config)
  t.equal((await app.store.state(user.id)).lastStep, 0, 'Redis remembers nothing')
  clock.advance(11_000)
  const again = await login(app, { username: user.username, password: user.password, totp: code })
  t.equal(again.body, TFA_REQUIRED_BODY, 'the same code, 11 s later: refused')
  const appended = await login(app, { username: user.username, password: user.password + code })
  t.equal(appended.body, TFA_REQUIRED_BODY, 'appended to the password too')
  t.equal(await app.secondFactor.failures(user.id), 0, 'a replay, not counted as a guess')
  clock.advance(30_000)
  t.equal((await login(app, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200, 'the next code logs in')
})

t.test('Redis emptied: a lock set before still holds, until it ends', async (t) => {
  const user = await createTfaUser(app, clock)
  const bad = wrongCode(user.secret, clock.now())
  const tries = []
  for (let i = 0; i < 5; i++) tries.push(await login(app, { username: user.username, password: user.password, totp: bad }))
  t.equal(tries.at(-1)?.statusCode, 429, 'locked after five wrong codes')
  await flushRedis(config)
  const right = await login(app, { username: user.username, password: user.password, totp: user.code() })
  t.equal(right.statusCode, 429, 'the right code while the lock runs: still refused')
  t.ok(Number(right.headers['retry-after']) > 800, `Retry-After ${String(right.headers['retry-after'])} s: the rest of the lock`)
  const bare = await login(app, { username: user.username, password: user.password })
  t.equal(bare.statusCode, 429, 'no code: told it is locked')
  clock.advance(901_000)
  t.equal((await login(app, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200, 'after the lock: in')
})

t.test('an administrator\'s unlock clears the durable lock too', async (t) => {
  const user = await createTfaUser(app, clock)
  const bad = wrongCode(user.secret, clock.now())
  for (let i = 0; i < 5; i++) await login(app, { username: user.username, password: user.password, totp: bad })
  await app.secondFactor.unlock(user.id)
  t.equal((await login(app, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200)
})

t.test('a second app on the same database with an empty Redis prefix refuses the code', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: code })).statusCode, 200)
  const other = await buildTestApp(t, testConfig({ ...env, REDIS_KEY_PREFIX: `${config.redisKeyPrefix}other:` }), { now: clock.now })
  t.equal((await login(other, { username: user.username, password: user.password, totp: code })).body, TFA_REQUIRED_BODY)
})

t.test('embedded store (no Redis): a code accepted before a restart is refused after it', async (t) => {
  const embedded = testConfig({ ...env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined })
  t.equal(embedded.redisUrl, undefined, 'the in-process store')
  const first = await buildTestApp(t, embedded, { now: clock.now })
  const user = await createTfaUser(first, clock)
  const code = user.code()
  t.equal((await login(first, { username: user.username, password: user.password, totp: code })).statusCode, 200)
  await first.close()
  const restarted = await buildTestApp(t, embedded, { now: clock.now })
  t.equal(restarted.store.kind, 'memory')
  t.equal((await login(restarted, { username: user.username, password: user.password, totp: code })).body, TFA_REQUIRED_BODY, 'refused after the restart')
  clock.advance(30_000)
  t.equal((await login(restarted, { username: user.username, password: user.password, totp: user.code() })).statusCode, 200, 'the next code works')
})

t.test('one code raced at /login and /tfa/disable: never both', async (t) => {
  // A login spends most of its time in bcrypt after reading the user: at this cost, a disable
  // sent with it finishes inside that time, as the outside tester's did.
  const racer = await buildTestApp(t, testConfig({ ...env, BCRYPT_COST: '8' }), { now: clock.now })
  let bothWon = 0
  let loginWon = 0
  let disableWon = 0
  for (let i = 0; i < 12; i++) {
    const user = await createTfaUser(racer, clock)
    const code = user.code()
    const [signedIn, disabled] = await Promise.all([
      login(racer, { username: user.username, password: user.password, totp: code }),
      racer.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(user.token), payload: { totp: code } })
    ])
    const counts = countStatuses([signedIn, disabled])
    if (signedIn.statusCode === 200 && disabled.statusCode === 200) bothWon++
    if (signedIn.statusCode === 200 && disabled.statusCode !== 200) loginWon++
    if (disabled.statusCode === 200 && signedIn.statusCode !== 200) disableWon++
    t.ok(counts[200] !== undefined && counts[200] <= 1, `race ${i}: at most one success (login ${signedIn.statusCode}, disable ${disabled.statusCode})`)
  }
  t.equal(bothWon, 0, 'the code never worked twice')
  t.comment(`login won ${loginWon}, disable won ${disableWon}`)
})

t.test('Redis emptied: a code accepted at the receipt step (POST /login/tfa) is refused there again', async (t) => {
  const user = await createTfaUser(app, clock)
  const code = user.code()
  const first = await login(app, { username: user.username, password: user.password })
  t.equal((await loginWithReceipt(app, { receipt: receiptOf(first), totp: code })).statusCode, 200)
  await flushRedis(config)
  clock.advance(11_000)
  const again = await login(app, { username: user.username, password: user.password })
  const replay = await loginWithReceipt(app, { receipt: receiptOf(again), totp: code })
  t.equal(replay.body, TFA_REQUIRED_BODY, 'the same code through a fresh receipt, 11 s later: refused')
  clock.advance(30_000)
  t.equal((await loginWithReceipt(app, { receipt: receiptOf(again), totp: user.code() })).statusCode, 200, 'the next code logs in')
})

/**
 * Another instance records the same step between this login's store check and its session
 * (its Redis never saw this one's: a store that lost its data, another prefix). The session's
 * statement carries the step's compare-and-set, so this login writes nothing: no session, no
 * success in the audit trail, no remembered device; the answer is the documented 401.
 */
t.test('a step taken in the database between the store\'s check and the session: no session, nothing written', async (t) => {
  const racer = await buildTestApp(t, config, { now: clock.now })
  const { store } = racer
  const takeStep = async (userId: string, step: number | null) => {
    if (step !== null) await racer.prisma.$executeRaw`UPDATE users SET totp_last_step = ${step} WHERE id = ${userId}::uuid`
  }
  const acceptStep = store.acceptStep.bind(store)
  const redeemReceiptCode = store.redeemReceiptCode.bind(store)
  store.acceptStep = async (userId, step, ...rest) => {
    const result = await acceptStep(userId, step, ...rest)
    await takeStep(userId, step)
    return result
  }
  store.redeemReceiptCode = async (userId, hash, opts) => {
    const result = await redeemReceiptCode(userId, hash, opts)
    if (result.status === 'accepted') await takeStep(userId, result.step)
    return result
  }
  t.teardown(() => { Object.assign(store, { acceptStep, redeemReceiptCode }) })

  const traces = async (userId: string) => {
    await racer.audit.flush()
    const events = await racer.prisma.securityEvent.findMany({ where: { userId }, select: { type: true, detail: true } })
    return {
      sessions: await racer.prisma.session.count({ where: { userId } }),
      devices: await racer.prisma.trustedDevice.count({ where: { userId } }),
      succeeded: events.filter(e => e.type === 'login.succeeded').length,
      replayed: events.filter(e => e.type === 'login.failed' && (e.detail as { reason?: string }).reason === 'replayed').length
    }
  }

  const user = await createTfaUser(racer, clock)
  const before = await traces(user.id)
  const direct = await login(racer, { username: user.username, password: user.password, totp: user.code(), remember_device: true })
  t.equal(direct.statusCode, 401, 'POST /login: refused')
  t.equal(direct.body, TFA_REQUIRED_BODY, 'with the documented body')
  t.equal(direct.headers['x-tfa-method'], 'totp')
  t.type(direct.headers['x-tfa-receipt'], 'string', 'and a receipt, as for any spent code')
  t.same(await traces(user.id), { ...before, replayed: before.replayed + 1 }, 'no session, no success audited, no device remembered; the replay audited')

  clock.advance(30_000)
  const first = await login(racer, { username: user.username, password: user.password })
  const second = await loginWithReceipt(racer, { receipt: receiptOf(first), totp: user.code(), remember_device: true })
  t.equal(second.statusCode, 401, 'POST /login/tfa: refused')
  t.equal(second.body, TFA_REQUIRED_BODY)
  t.same(await traces(user.id), { ...before, replayed: before.replayed + 2 }, 'nothing written there either')

  Object.assign(store, { acceptStep, redeemReceiptCode })
  clock.advance(30_000)
  const fine = await login(racer, { username: user.username, password: user.password, totp: user.code(), remember_device: true })
  t.equal(fine.statusCode, 200, 'without the race, the next code logs in')
  t.match(await traces(user.id), { sessions: before.sessions + 1, devices: before.devices + 1, succeeded: before.succeeded + 1 })
})
