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
