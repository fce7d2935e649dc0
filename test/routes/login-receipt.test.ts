import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { LOGIN_RECEIPT_TTL_SECONDS } from '../../src/auth/login-receipts.js'
import { generateTotpCode } from '../../src/auth/totp.js'
import { buildTestApp, createTestDatabase, TEST_REDIS_CLUSTER_NODES, TestClock, testConfig } from '../helper.js'
import {
  amrOf, bearer, createTfaUser, enrolSms, INVALID_CREDENTIALS_BODY, login, loginWithReceipt, plainUser, randomUsername,
  RECEIPT_INVALID_BODY, receiptOf, STEP_MS, TFA_LOCKED_BODY, TFA_REQUIRED_BODY, wrongCode,
  decodeClaims
} from '../flows.js'
import { startSmsReceiver } from '../sms-receiver.js'

// The second step of a two-step login: the 401 after a right password carries a receipt, and the
// code follows with it instead of the password.
const receiver = await startSmsReceiver(t)
const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, TFA_MAX_FAILURES: '5', ...receiver.env }), { now: clock.now })

async function firstStep (user: { username: string, password: string }) {
  const res = await login(app, { username: user.username, password: user.password })
  return { res, receipt: receiptOf(res) }
}

/** An administrator's token that passed the code (admin routes want amr mfa). */
async function adminWithCode (): Promise<string> {
  const admin = await createTfaUser(app, clock)
  await app.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } })
  const res = await login(app, { username: admin.username, password: admin.password, totp: admin.code() })
  clock.advance(STEP_MS)
  return (res.json() as { access_token: string }).access_token
}

t.test('right password, no code: the documented body byte for byte, with X-TFA-Method and X-TFA-Receipt', async (t) => {
  const user = await createTfaUser(app, clock)
  const { res, receipt } = await firstStep(user)
  t.equal(res.statusCode, 401)
  t.equal(res.body, TFA_REQUIRED_BODY, 'body unchanged')
  t.equal(res.headers['x-tfa-method'], 'totp')
  t.match(receipt, /^twofold_lr_[0-9A-Za-z_-]{86}$/, '256 random bits and the sealed owner, in base64url')
  t.notOk(Buffer.from(receipt.slice('twofold_lr_'.length), 'base64url').toString('hex').includes(user.id.replace(/-/g, '')), 'the user\'s id is not readable in it')

  const ok = await loginWithReceipt(app, { receipt, totp: user.code() })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(amrOf(app, ok), ['pwd', 'otp', 'mfa'])
  const body = ok.json() as Record<string, unknown>
  t.match(body, { token_type: 'Bearer', refresh_token: /^twofold_rt_/, session_id: String }, 'the same answer as POST /login: a session and its refresh token')
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(body.access_token as string) })
  t.equal(me.statusCode, 200)
})

t.test('a wrong code also gets a receipt; a wrong password, an unknown user and a lock never do', async (t) => {
  const user = await createTfaUser(app, clock)
  const wrong = await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  t.equal(wrong.body, TFA_REQUIRED_BODY)
  t.type(wrong.headers['x-tfa-receipt'], 'string', 'right password + wrong code: a receipt')

  const badPassword = await login(app, { username: user.username, password: 'not the password' })
  t.equal(badPassword.body, INVALID_CREDENTIALS_BODY)
  t.equal(badPassword.headers['x-tfa-receipt'], undefined, 'wrong password: none')
  const unknown = await login(app, { username: randomUsername(), password: 'whatever password' })
  t.equal(unknown.headers['x-tfa-receipt'], undefined, 'unknown user: none')
  const plain = await plainUser(app)
  t.equal((await login(app, { username: plain.username, password: 'not the password' })).headers['x-tfa-receipt'], undefined)

  for (let i = 0; i < 4; i++) await login(app, { username: user.username, password: user.password, totp: wrongCode(user.secret, clock.now()) })
  const locked = await login(app, { username: user.username, password: user.password })
  t.equal(locked.statusCode, 429)
  t.equal(locked.body, TFA_LOCKED_BODY)
  t.equal(locked.headers['x-tfa-receipt'], undefined, 'locked: none')

  // The lock as the shared store holds it alone (the database's copy is written a moment after
  // the lock, and read with the user): the receipt's own store step refuses it.
  await app.prisma.user.update({ where: { id: user.id }, data: { tfaLockedUntil: null } })
  const lockedInStore = await login(app, { username: user.username, password: user.password })
  t.equal(lockedInStore.statusCode, 429, 'locked in the store only: 429')
  t.equal(lockedInStore.body, TFA_LOCKED_BODY)
  t.match(lockedInStore.headers['retry-after'], /^[1-9][0-9]*$/)
  t.equal(lockedInStore.headers['x-tfa-receipt'], undefined, 'and no receipt')
})

t.test('single use once a code succeeds; a wrong, replayed or missing code leaves it usable', async (t) => {
  const user = await createTfaUser(app, clock)
  const { receipt } = await firstStep(user)
  const wrong = await loginWithReceipt(app, { receipt, totp: wrongCode(user.secret, clock.now()) })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.body, TFA_REQUIRED_BODY, 'the documented 401 again')
  t.equal(wrong.headers['x-tfa-receipt'], receipt, 'with the same receipt')
  t.equal(wrong.headers['x-tfa-method'], 'totp')
  t.equal(await app.secondFactor.failures(user.id), 1, 'a wrong code counts toward the lock as at POST /login')

  const code = user.code()
  t.equal((await loginWithReceipt(app, { receipt, totp: code })).statusCode, 200, 'then the right code')
  const again = await loginWithReceipt(app, { receipt, totp: code })
  t.equal(again.statusCode, 401)
  t.equal(again.body, RECEIPT_INVALID_BODY, 'spent: start again')
  t.equal(again.headers['x-tfa-receipt'], undefined)
  clock.advance(STEP_MS)
  t.equal((await loginWithReceipt(app, { receipt, totp: user.code() })).body, RECEIPT_INVALID_BODY, 'even with the next valid code')

  // A code used elsewhere (replayed) is refused, the receipt goes on.
  const second = await firstStep(user)
  const used = user.code()
  t.equal((await login(app, { username: user.username, password: user.password, totp: used })).statusCode, 200)
  const replay = await loginWithReceipt(app, { receipt: second.receipt, totp: used })
  t.equal(replay.body, TFA_REQUIRED_BODY, 'a replayed code: the documented 401')
  clock.advance(STEP_MS)
  t.equal((await loginWithReceipt(app, { receipt: second.receipt, totp: user.code() })).statusCode, 200, 'the receipt still works')
})

t.test('a recovery code completes it too (amr pwd mfa), once', async (t) => {
  const user = await createTfaUser(app, clock)
  const { receipt } = await firstStep(user)
  const ok = await loginWithReceipt(app, { receipt, recovery_code: user.recoveryCodes[0]! })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(amrOf(app, ok), ['pwd', 'mfa'])
  const next = await firstStep(user)
  t.equal((await loginWithReceipt(app, { receipt: next.receipt, recovery_code: user.recoveryCodes[0]! })).body, TFA_REQUIRED_BODY, 'a used recovery code is refused')
})

t.test('at most 5 code attempts per receipt', async (t) => {
  // A lock of 5 would end the receipt first: this user has a higher one.
  const lenient = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, TFA_MAX_FAILURES: '50' }), { now: clock.now })
  const user = await createTfaUser(lenient, clock)
  const { receipt } = await (async () => { const res = await login(lenient, { username: user.username, password: user.password }); return { receipt: receiptOf(res) } })()
  for (let i = 0; i < 5; i++) {
    t.equal((await loginWithReceipt(lenient, { receipt, totp: wrongCode(user.secret, clock.now()) })).body, TFA_REQUIRED_BODY, `attempt ${i + 1}`)
  }
  const sixth = await loginWithReceipt(lenient, { receipt, totp: user.code() })
  t.equal(sixth.body, RECEIPT_INVALID_BODY, 'the sixth, even with the right code, is refused')
  t.equal(await lenient.secondFactor.failures(user.id), 5, 'each wrong code counted toward the lock')
  // The attempt cap holds under a burst too: 20 wrong codes at once, at most 5 get a code check.
  const burst = receiptOf(await login(lenient, { username: user.username, password: user.password }))
  const before = await lenient.secondFactor.failures(user.id)
  const answers = await Promise.all(Array.from({ length: 20 }, async () => await loginWithReceipt(lenient, { receipt: burst, totp: wrongCode(user.secret, clock.now()) })))
  t.equal(answers.filter(r => r.body === TFA_REQUIRED_BODY).length, 5, '5 checked')
  t.equal(answers.filter(r => r.body === RECEIPT_INVALID_BODY).length, 15, 'the rest refused unchecked')
  t.equal(await lenient.secondFactor.failures(user.id), before + 5)
})

t.test('a lock: 429 with Retry-After while it runs, and the receipt is dead after it', async (t) => {
  const user = await createTfaUser(app, clock)
  const { receipt } = await firstStep(user)
  const older = (await firstStep(user)).receipt
  for (let i = 0; i < 4; i++) t.equal((await loginWithReceipt(app, { receipt, totp: wrongCode(user.secret, clock.now()) })).statusCode, 401)
  const fifth = await loginWithReceipt(app, { receipt, totp: wrongCode(user.secret, clock.now()) })
  t.equal(fifth.statusCode, 429, 'the fifth wrong code locks')
  t.equal(fifth.body, TFA_LOCKED_BODY)
  t.match(String(fifth.headers['retry-after']), /^[0-9]+$/)
  const during = await loginWithReceipt(app, { receipt: older, totp: user.code() })
  t.equal(during.statusCode, 429, 'another receipt while locked: 429')
  t.match(String(during.headers['retry-after']), /^[0-9]+$/)
  await app.secondFactor.unlock(user.id)
  t.equal((await loginWithReceipt(app, { receipt: older, totp: user.code() })).body, RECEIPT_INVALID_BODY, 'after the lock: dead')
  t.equal((await loginWithReceipt(app, { receipt, totp: user.code() })).body, RECEIPT_INVALID_BODY)
})

t.test('dead after TFA disable, an administrator\'s reset and a password change', async (t) => {
  const disabled = await createTfaUser(app, clock)
  const r1 = (await firstStep(disabled)).receipt
  const off = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(disabled.token), payload: { totp: disabled.code() } })
  t.equal(off.statusCode, 200, off.body)
  clock.advance(STEP_MS)
  t.equal((await loginWithReceipt(app, { receipt: r1, totp: disabled.code() })).body, RECEIPT_INVALID_BODY, 'disable')

  // Reset then re-enrolment: the receipt was for the old factor, the new code must not use it.
  const reset = await createTfaUser(app, clock)
  const r2 = (await firstStep(reset)).receipt
  const admin = await adminWithCode()
  t.equal((await app.inject({ method: 'POST', url: `/admin/users/${reset.id}/tfa/reset`, headers: bearer(admin) })).statusCode, 200)
  t.equal((await loginWithReceipt(app, { receipt: r2, totp: reset.code() })).body, RECEIPT_INVALID_BODY, 'reset')

  const changer = await createTfaUser(app, clock)
  const r3 = (await firstStep(changer)).receipt
  const fresh = await login(app, { username: changer.username, password: changer.password, totp: changer.code() })
  clock.advance(STEP_MS)
  const change = await app.inject({ method: 'POST', url: '/password', headers: bearer(fresh.json().access_token), payload: { current_password: changer.password, totp: changer.code(), new_password: 'a brand new password' } })
  t.equal(change.statusCode, 204, change.body)
  clock.advance(STEP_MS)
  t.equal((await loginWithReceipt(app, { receipt: r3, totp: changer.code() })).body, RECEIPT_INVALID_BODY, 'password change')
})

t.test('bound to its user and factor: unknown, garbled and expired receipts are dead', async (t) => {
  const alice = await createTfaUser(app, clock)
  const bob = await createTfaUser(app, clock)
  const { receipt } = await firstStep(alice)
  t.equal((await loginWithReceipt(app, { receipt, totp: bob.code() })).body, TFA_REQUIRED_BODY, 'Bob\'s code is wrong for Alice\'s receipt')
  const ok = await loginWithReceipt(app, { receipt, totp: alice.code() })
  t.equal(decodeClaims<{ sub: string }>(ok.json().access_token).sub, alice.id, 'the login is Alice\'s')

  t.equal((await loginWithReceipt(app, { receipt: 'twofold_lr_' + 'A'.repeat(49), totp: alice.code() })).body, RECEIPT_INVALID_BODY, 'garbled')
  t.equal((await loginWithReceipt(app, { receipt: 'twofold_lr_' + randomBytes(64).toString('base64url'), totp: alice.code() })).body, RECEIPT_INVALID_BODY, 'the right shape, not sealed by this service')
  // The seal is authenticated: no byte of it can be changed to name someone else.
  const sealed = Buffer.from((await firstStep(alice)).receipt.slice('twofold_lr_'.length), 'base64url')
  for (const at of [0, 40, 63]) {
    const forged = Buffer.from(sealed)
    forged[at] = forged[at]! ^ 1
    t.equal((await loginWithReceipt(app, { receipt: 'twofold_lr_' + forged.toString('base64url'), totp: alice.code() })).body, RECEIPT_INVALID_BODY, `byte ${at} flipped`)
  }
  t.equal((await loginWithReceipt(app, { receipt: 'nothing like one', totp: alice.code() })).body, RECEIPT_INVALID_BODY)
  const r = (await firstStep(alice)).receipt
  t.equal((await loginWithReceipt(app, { receipt: r.slice(0, -1) + (r.endsWith('A') ? 'B' : 'A'), totp: alice.code() })).body, RECEIPT_INVALID_BODY, 'one character changed')
  // The last base64url character carries spare bits: the next one up decodes to the same bytes.
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const respelled = r.slice(0, -1) + B64URL[B64URL.indexOf(r.at(-1)!) + 1]!
  t.same(Buffer.from(respelled.slice('twofold_lr_'.length), 'base64url'), Buffer.from(r.slice('twofold_lr_'.length), 'base64url'), 'the same bytes')
  t.equal((await loginWithReceipt(app, { receipt: respelled, totp: alice.code() })).body, RECEIPT_INVALID_BODY, 'another spelling of the same bytes: only the one issued counts')

  // Expired: the store's TTL is real time, so this one is checked on the in-process store's clock.
  const memoryApp = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, REDIS_URL: undefined }), { now: clock.now })
  const carol = await createTfaUser(memoryApp, clock)
  const late = receiptOf(await login(memoryApp, { username: carol.username, password: carol.password }))
  clock.advance(LOGIN_RECEIPT_TTL_SECONDS * 1000)
  t.equal((await loginWithReceipt(memoryApp, { receipt: late, totp: carol.code() })).body, RECEIPT_INVALID_BODY, 'after 5 minutes')
})

t.test('keyed hash only: the receipt itself is nowhere in Redis', async (t) => {
  const user = await createTfaUser(app, clock)
  const { receipt } = await firstStep(user)
  const redis = app.redis!
  const keys = await redis.keys(`${app.config.redisKeyPrefix}*`)
  const read = async (k: string): Promise<string> => {
    const type = await redis.type(k)
    if (type === 'string') return String(await redis.get(k))
    if (type === 'hash') return JSON.stringify(await redis.hgetall(k))
    if (type === 'zset') return JSON.stringify(await redis.zrange(k, '0', '-1'))
    if (type === 'set') return JSON.stringify(await redis.smembers(k))
    if (type === 'stream') return JSON.stringify(await redis.xrange(k, '-', '+'))
    return JSON.stringify(await redis.lrange(k, '0', '-1'))
  }
  const values = await Promise.all(keys.map(read))
  t.notOk(keys.some(k => k.includes(receipt)) || values.some(v => v.includes(receipt)), 'neither a key nor a value holds it')
  t.notOk(keys.some(k => k.includes(receipt.slice('twofold_lr_'.length, 30))))
  // What the second step checks the code against: a keyed hash per step, never a code or the secret.
  const [receiptKey] = keys.filter(k => k.includes(`{u:${user.id}}:tfa:receipt:`))
  const fields = await redis.hgetall(receiptKey!)
  const steps = Object.keys(fields).filter(f => /^c\d+$/.test(f)).map(f => Number(f.slice(1)))
  t.equal(steps.length, LOGIN_RECEIPT_TTL_SECONDS / 30 + 3, 'a hash for every step of its five minutes and the window either side')
  const codes = steps.map(step => generateTotpCode(user.secret, step * STEP_MS))
  t.notOk(Object.values(fields).some(v => codes.includes(v)), 'no code in clear')
  t.notOk(values.some(v => v.includes(user.secret)), 'nor the secret')
  // Each receipt's hashes are its own (keyed with its hash too): a dump can't tell that two
  // receipts share a code, and what one receipt keeps verifies no code for another.
  await firstStep(user)
  const receiptKeys = (await redis.keys(`${app.config.redisKeyPrefix}{u:${user.id}}:tfa:receipt:*`)).filter(k => k !== receiptKey)
  t.equal(receiptKeys.length, 1, 'a second receipt of the same user')
  const other = await redis.hgetall(receiptKeys[0]!)
  const shared = steps.filter(step => other[`c${step}`] !== undefined)
  t.ok(shared.length > 0, 'sharing steps with the first')
  t.ok(shared.every(step => other[`c${step}`] !== fields[`c${step}`]), 'with other hashes for the same codes')
})

t.test('SMS through the receipt: the code sent at the first step is entered at the second', async (t) => {
  const user = await enrolSms(app, clock, receiver)
  const first = await login(app, { username: user.username, password: user.password })
  t.equal(first.body, TFA_REQUIRED_BODY)
  t.equal(first.headers['x-tfa-method'], 'sms')
  const code = receiver.lastCode(user.phone)
  const ok = await loginWithReceipt(app, { receipt: receiptOf(first), totp: code })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(amrOf(app, ok), ['pwd', 'sms', 'mfa'])
})

t.test('rate limited per client IP and per user', async (t) => {
  const limited = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, RATE_LIMIT_LOGIN_MAX: '3' }), { now: clock.now })
  const user = await createTfaUser(limited, clock)
  const receipt = receiptOf(await limited.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.1', payload: { username: user.username, password: user.password } }))
  const perUser = []
  for (let i = 0; i < 5; i++) {
    perUser.push((await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: `198.51.100.${i + 1}`, payload: { receipt, totp: 'x' } })).statusCode)
  }
  t.same(perUser, [401, 401, 401, 429, 429], 'one user from many addresses')
  const perIp = []
  for (let i = 0; i < 3; i++) perIp.push((await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: '203.0.113.9', payload: { receipt: 'twofold_lr_nothing', totp: '1' } })).statusCode)
  t.same(perIp, [401, 401, 401])
  t.equal((await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: '203.0.113.9', payload: { receipt: 'twofold_lr_nothing', totp: '1' } })).statusCode, 429, 'one address')
})

t.test('over the limit: 429 whatever the code, and the code counts as the attempt it was', async (t) => {
  const limited = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, RATE_LIMIT_LOGIN_MAX: '2' }), { now: clock.now })
  const sessionsOf = async (userId: string) => await limited.prisma.session.count({ where: { userId } })
  /** An address over its limit (receipts that open to no one count toward it alone), and a receipt for `user`. */
  const overTheLimit = async (user: { username: string, password: string }, address: string) => {
    const receipt = receiptOf(await limited.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.7', payload: { username: user.username, password: user.password } }))
    for (let i = 0; i < 2; i++) {
      const res = await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: address, payload: { receipt: 'twofold_lr_nothing', totp: '123456' } })
      t.equal(res.body, RECEIPT_INVALID_BODY)
    }
    return receipt
  }

  const right = await createTfaUser(limited, clock)
  const receipt = await overTheLimit(right, '203.0.113.20')
  const before = await sessionsOf(right.id)
  const refused = await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: '203.0.113.20', payload: { receipt, totp: right.code() } })
  t.equal(refused.statusCode, 429, 'the right code, from an address over its limit')
  t.match(refused.headers['retry-after'], /^[1-9][0-9]*$/)
  t.equal(refused.headers['x-tfa-receipt'], undefined)
  t.equal(await sessionsOf(right.id), before, 'no session')
  clock.advance(STEP_MS)
  const elsewhere = await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: '203.0.113.21', payload: { receipt, totp: right.code() } })
  t.equal(elsewhere.body, RECEIPT_INVALID_BODY, 'the receipt was spent by that code: a right code a client past its limit learns of is one already used')
  const { events } = await limited.audit.list(right.id, {})
  t.ok(events.some(e => e.type === 'login.failed' && e.detail?.reason === 'rate_limited'), 'audited as a failed login, rate limited')

  const wrong = await createTfaUser(limited, clock)
  const second = await overTheLimit(wrong, '203.0.113.22')
  const refusedWrong = await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: '203.0.113.22', payload: { receipt: second, totp: wrongCode(wrong.secret, clock.now()) } })
  t.equal(refusedWrong.statusCode, 429, 'a wrong code over the limit: the same 429')
  t.equal(await limited.secondFactor.failures(wrong.id), 1, 'and it counts toward the lock like any wrong code')
  const next = await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: '203.0.113.23', payload: { receipt: second, totp: wrong.code() } })
  t.equal(next.statusCode, 200, 'the receipt goes on within its attempts, from an address under its limit')
})

for (const store of ['redis', 'memory'] as const) {
  t.test(`a user known to be over its limit is refused from memory, nothing taken (${store})`, async (t) => {
    const limited = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, RATE_LIMIT_LOGIN_MAX: '2', ...(store === 'memory' ? { REDIS_URL: undefined } : {}) }), { now: clock.now })
    const user = await createTfaUser(limited, clock)
    const receipt = receiptOf(await limited.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.8', payload: { username: user.username, password: user.password } }))
    const send = async (address: string, totp: string) => await limited.inject({ method: 'POST', url: '/login/tfa', remoteAddress: address, payload: { receipt, totp } })
    t.equal((await send('198.51.100.31', wrongCode(user.secret, clock.now()))).body, TFA_REQUIRED_BODY)
    t.equal((await send('198.51.100.32', wrongCode(user.secret, clock.now()))).body, TFA_REQUIRED_BODY)
    t.equal((await send('198.51.100.33', wrongCode(user.secret, clock.now()))).statusCode, 429, 'the third code for the user: counted over the limit, and taken')
    t.equal(await limited.secondFactor.failures(user.id), 3)
    const fromMemory = await send('198.51.100.34', wrongCode(user.secret, clock.now()))
    t.equal(fromMemory.statusCode, 429, 'the fourth: the user is known to be over')
    t.match(fromMemory.headers['retry-after'], /^[1-9][0-9]*$/)
    t.equal(await limited.secondFactor.failures(user.id), 3, 'nothing taken: no failure counted')
    const stepBefore = (await limited.store.state(user.id)).lastStep
    t.equal((await send('198.51.100.35', user.code())).statusCode, 429, 'a right code too')
    t.equal((await limited.store.state(user.id)).lastStep, stepBefore, 'and its step was not taken')
  })
}

/** The writes the service makes to its Redis connection's socket (a single node's; none on a cluster). */
function countRedisWrites (t: { teardown: (fn: () => unknown) => void }, on: typeof app): { writes: number } | undefined {
  const redis = on.redis
  if (!(redis instanceof Redis)) return undefined
  const socket = redis.stream as unknown as { _write: (...args: unknown[]) => unknown, _writev: (...args: unknown[]) => unknown }
  const { _write: write, _writev: writev } = socket
  const counted = { writes: 0 }
  socket._write = function (...args: unknown[]) { counted.writes++; return write.apply(this, args) }
  socket._writev = function (...args: unknown[]) { counted.writes++; return writev.apply(this, args) }
  t.teardown(() => { Object.assign(socket, { _write: write, _writev: writev }) })
  return counted
}

t.test('the limits\' counts leave in one write with what follows them: one Redis round per step', { skip: TEST_REDIS_CLUSTER_NODES !== undefined && 'a cluster sends each command to its own node' }, async (t) => {
  const counted = countRedisWrites(t, app)
  if (counted === undefined) throw new Error('a single Redis node was expected')
  const user = await createTfaUser(app, clock)
  counted.writes = 0
  const { receipt } = await firstStep(user)
  t.equal(counted.writes, 2, 'POST /login: the address and the username counted in one write, then the receipt')
  counted.writes = 0
  const ok = await loginWithReceipt(app, { receipt, totp: user.code() })
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(counted.writes, 1, 'POST /login/tfa: the address, the user and the code in one write')
})

/**
 * Counts the raw statements the service sends PostgreSQL (a user lookup is one `$queryRaw`),
 * leaving out the audit trail's batch insert, which its own timer may send at any moment.
 */
function countQueries (t: { teardown: (fn: () => unknown) => void }) {
  const prisma = app.prisma
  const queryRaw = prisma.$queryRaw.bind(prisma)
  const executeRaw = prisma.$executeRaw.bind(prisma)
  const counts = { reads: 0, writes: 0 }
  const textOf = (query: unknown) => Array.isArray(query) ? query.join('?') : String((query as { sql?: string }).sql ?? (query as { strings?: string[] }).strings?.join('?'))
  Object.assign(prisma, {
    $queryRaw: (...args: Parameters<typeof queryRaw>) => { counts.reads++; return queryRaw(...args) },
    $executeRaw: (...args: Parameters<typeof executeRaw>) => {
      if (!textOf(args[0]).includes('INSERT INTO security_events')) counts.writes++
      return executeRaw(...args)
    }
  })
  const restore = () => { Object.assign(prisma, { $queryRaw: queryRaw, $executeRaw: executeRaw }) }
  t.teardown(restore)
  return { counts, restore }
}

t.test('a TOTP code at the second step reads nothing from the database: the receipt keeps its codes\' hashes', async (t) => {
  const user = await createTfaUser(app, clock)
  const { receipt } = await firstStep(user)
  const { counts, restore } = countQueries(t)
  const ok = await loginWithReceipt(app, { receipt, totp: user.code() })
  restore()
  t.equal(ok.statusCode, 200, ok.body)
  t.same(counts, { reads: 0, writes: 1 }, 'no user lookup; one statement writes the step and the session')
  t.same(amrOf(app, ok), ['pwd', 'otp', 'mfa'])
  t.equal(decodeClaims<{ username: string }>(ok.json().access_token).username, user.username, 'the username kept with the receipt')

  // Within its five minutes and the code window either side, from the codes it keeps.
  clock.advance(STEP_MS)
  const late = (await firstStep(user)).receipt
  clock.advance(LOGIN_RECEIPT_TTL_SECONDS * 1000 - 2 * STEP_MS)
  t.equal((await loginWithReceipt(app, { receipt: late, totp: user.code() })).statusCode, 200, 'a code of its last minute')
  clock.advance(STEP_MS)
  const drift = (await firstStep(user)).receipt
  const earlier = generateTotpCode(user.secret, clock.now() - STEP_MS)
  clock.advance(STEP_MS)
  t.equal((await loginWithReceipt(app, { receipt: drift, totp: generateTotpCode(user.secret, clock.now() - 3 * STEP_MS) })).body, TFA_REQUIRED_BODY, 'a code outside the window: wrong')
  t.equal((await loginWithReceipt(app, { receipt: drift, totp: earlier })).body, TFA_REQUIRED_BODY, 'nor one already outside it since (the step before its issue)')
  t.equal((await loginWithReceipt(app, { receipt: drift, totp: generateTotpCode(user.secret, clock.now() - STEP_MS) })).statusCode, 200, 'a phone a step behind: within the window')
})

t.test('a factor switched off or enrolled again behind the store\'s back: the codes the receipt keeps log no one in', async (t) => {
  // The store ends a user's receipts at a disable, reset and re-enrolment (its epoch); the session's
  // statement checks the factor again, for the race where the database changed and the store not yet.
  const user = await createTfaUser(app, clock)
  const sessions = async () => await app.prisma.session.count({ where: { userId: user.id } })
  const before = await sessions()
  const { receipt } = await firstStep(user)
  await app.prisma.twoFactor.update({ where: { userId: user.id }, data: { enabledAt: new Date(clock.now() + 1000) } })
  const reenrolled = await loginWithReceipt(app, { receipt, totp: user.code() })
  t.equal(reenrolled.statusCode, 401, 'enrolled again since the receipt: refused')
  t.equal(reenrolled.body, TFA_REQUIRED_BODY)
  t.equal(await sessions(), before, 'no session')

  clock.advance(STEP_MS)
  const second = (await firstStep(user)).receipt
  await app.prisma.twoFactor.delete({ where: { userId: user.id } })
  const off = await loginWithReceipt(app, { receipt: second, totp: user.code() })
  t.equal(off.statusCode, 401, 'switched off since the receipt: refused')
  t.equal(await sessions(), before, 'no session')
})

t.test('a receipt that keeps no codes (issued by an instance from before, during a rolling deploy) completes through the database', async (t) => {
  const user = await createTfaUser(app, clock)
  const { receipt } = await firstStep(user)
  const redis = app.redis!
  const [key] = await redis.keys(`${app.config.redisKeyPrefix}{u:${user.id}}:tfa:receipt:*`)
  const fields = Object.keys(await redis.hgetall(key!)).filter(f => f !== 'binding' && f !== 'attempts' && f !== 'epoch')
  await redis.hdel(key!, ...fields)
  t.same(Object.keys(await redis.hgetall(key!)).sort(), ['attempts', 'binding', 'epoch'], 'the receipt as the previous version kept it')
  const { counts, restore } = countQueries(t)
  t.equal((await loginWithReceipt(app, { receipt, totp: wrongCode(user.secret, clock.now()) })).body, TFA_REQUIRED_BODY, 'a wrong code: the documented 401')
  const code = user.code()
  const ok = await loginWithReceipt(app, { receipt, totp: code })
  restore()
  t.equal(ok.statusCode, 200, ok.body)
  t.ok(counts.reads >= 2, `the user and factor read for each attempt (${counts.reads} reads)`)
  t.same(amrOf(app, ok), ['pwd', 'otp', 'mfa'])
  const again = (await firstStep(user)).receipt
  t.equal((await loginWithReceipt(app, { receipt: again, totp: code })).body, TFA_REQUIRED_BODY, 'its code is spent for the codes\' way too')
})
