import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Cluster, Redis } from 'ioredis'
import type { EphemeralStore } from '../../src/store/ephemeral-store.js'
import { createMemoryStore } from '../../src/store/memory-store.js'
import { createRedisStore } from '../../src/store/redis-store.js'
import { createTestRedis, TEST_REDIS_CLUSTER_NODES, TestClock } from '../helper.js'

interface Backend {
  store: EphemeralStore
  /** Stores sharing this one's state (other connections / instances), for the burst tests. */
  peers: EphemeralStore[]
  /** Lets `ms` of store time pass: a moved clock in memory, a real (short) wait on Redis. */
  elapse: (ms: number) => Promise<void>
  /** A TTL short enough to wait out; long enough that a test step never outlives it by accident. */
  shortTtlMs: number
}

let userCounter = 0
// Any string names a user to the store; the store alone knows its keys.
const freshUser = () => `user-${++userCounter}-${randomBytes(4).toString('hex')}`

/** The EphemeralStore contract: every implementation must pass all of it. */
function storeContract (name: string, factory: (t: Test) => Promise<Backend>) {
  t.test(name, async (t) => {
    const { store, peers, elapse, shortTtlMs } = await factory(t)
    const keys = freshUser
    const state = async (user: string) => await store.state(user)
    const LONG = 60_000

    t.test('acceptStep: once per step, never an older one', async (t) => {
      const k = keys()
      t.same(await store.acceptStep(k, 1000, LONG), { status: 'accepted' })
      t.same(await store.acceptStep(k, 1000, LONG), { status: 'replayed' }, 'same step refused')
      t.same(await store.acceptStep(k, 999, LONG), { status: 'replayed' }, 'older step refused')
      t.same(await store.acceptStep(k, 1, LONG), { status: 'replayed' }, 'much older step refused')
      t.same(await store.acceptStep(k, 1001, LONG), { status: 'accepted' }, 'newer step accepted')
      t.same(await store.acceptStep(k, 1000, LONG), { status: 'replayed' }, 'the step before the newest refused')
      t.same(await store.acceptStep(k, 1001, LONG), { status: 'replayed' })
      t.equal((await state(k)).lastStep, 1001, 'the last step is kept')
      t.same(await store.acceptStep(keys(), 1000, LONG), { status: 'accepted' }, 'another user is independent')
    })

    t.test('acceptStep with a floor: steps at or below it count as used before', async (t) => {
      const k = keys()
      t.same(await store.acceptStep(k, 500, LONG, 500), { status: 'replayed' }, 'the floor itself')
      t.same(await store.acceptStep(k, 499, LONG, 500), { status: 'replayed' }, 'below it')
      t.same(await store.acceptStep(k, 501, LONG, 500), { status: 'accepted' }, 'above it')
      t.same(await store.acceptStep(k, 501, LONG, 0), { status: 'replayed' }, 'the record still counts without a floor')
    })

    t.test('takeSmsQuota: at most max per window, each scope and id its own, one burst across peers', async (t) => {
      const number = keys()
      const quota = { max: 3, windowMs: shortTtlMs }
      const burst = await Promise.all([store, ...peers, store, ...peers, store].map(async s => await s.takeSmsQuota('number', number, quota)))
      t.equal(burst.filter(r => r.allowed).length, 3, 'three of a concurrent burst, across instances')
      const refused = burst.filter(r => !r.allowed)
      t.ok(refused.length > 0 && refused.every(r => r.retryAfterMs > 0 && r.retryAfterMs <= shortTtlMs), 'the others learn when the window ends')
      t.same(await store.takeSmsQuota('ip', number, quota), { allowed: true, retryAfterMs: 0 }, 'another scope with the same id is independent')
      t.same(await store.takeSmsQuota('number', keys(), quota), { allowed: true, retryAfterMs: 0 }, 'another number is independent')
      await elapse(shortTtlMs + 50)
      t.same(await store.takeSmsQuota('number', number, quota), { allowed: true, retryAfterMs: 0 }, 'a new window')
    })

    t.test('registerFailure counts, then locks and clears the count', async (t) => {
      const k = keys()
      const opts = { max: 3, lockMs: 30_000, windowMs: LONG }
      t.same(await store.registerFailure(k, opts), { failures: 1, lockedMs: 0 })
      t.equal((await state(k)).failures, 1)
      t.same(await store.registerFailure(k, opts), { failures: 2, lockedMs: 0 })
      t.equal((await state(k)).failures, 2)
      const third = await store.registerFailure(k, opts)
      t.equal(third.failures, 3, 'the max-th failure')
      t.ok(third.lockedMs > 29_000 && third.lockedMs <= 30_000, `locks for lockMs (${third.lockedMs})`)
      t.equal((await state(k)).failures, 0, 'count cleared by the lock')
      const lockLeft = (await state(k)).lockedMs
      t.ok(lockLeft > 29_000 && lockLeft <= 30_000, `lock key lives lockMs (${lockLeft})`)

      // While locked: nothing counts, the lock is reported.
      for (let i = 0; i < 5; i++) {
        const during = await store.registerFailure(k, opts)
        t.equal(during.failures, 0, 'not counted while locked')
        t.ok(during.lockedMs > 0 && during.lockedMs <= 30_000, 'lockedMs reported')
      }
      t.equal((await state(k)).failures, 0)
      const remaining = (await state(k)).lockedMs
      t.ok(remaining <= lockLeft, 'more failures do not extend the lock')

      const accept = await store.acceptStep(k, 5, LONG)
      t.equal(accept.status, 'locked', 'acceptStep refused while locked')
      t.ok(accept.status === 'locked' && accept.lockedMs > 0 && accept.lockedMs <= 30_000, 'with lockedMs')
      t.equal((await state(k)).lastStep, 0, 'a refused step is not recorded')
    })

    t.test('max 1 locks at the first failure', async (t) => {
      const k = keys()
      const first = await store.registerFailure(k, { max: 1, lockMs: 10_000, windowMs: LONG })
      t.equal(first.failures, 1)
      t.ok(first.lockedMs > 9000)
      t.ok((await state(k)).lockedMs > 9000)
    })

    t.test('acceptStep clears the failure count', async (t) => {
      const k = keys()
      const opts = { max: 5, lockMs: 30_000, windowMs: LONG }
      await store.registerFailure(k, opts)
      await store.registerFailure(k, opts)
      t.equal((await state(k)).failures, 2)
      t.same(await store.acceptStep(k, 7, LONG), { status: 'accepted' })
      t.equal((await state(k)).failures, 0)
      t.same(await store.registerFailure(k, opts), { failures: 1, lockedMs: 0 }, 'counting starts over')
      const replay = await store.acceptStep(k, 7, LONG)
      t.same(replay, { status: 'replayed' })
      t.equal((await state(k)).failures, 1, 'a replay does not clear the count')
    })

    t.test('keys expire', async (t) => {
      const k = keys()
      t.same(await store.acceptStep(k, 50, shortTtlMs), { status: 'accepted' })
      const left = (await state(k)).lastStepMs
      t.ok(left > 0 && left <= shortTtlMs, `last step has its TTL (${left})`)
      await store.registerFailure(k, { max: 10, lockMs: shortTtlMs, windowMs: shortTtlMs })
      await store.registerFailure(k, { max: 10, lockMs: shortTtlMs, windowMs: shortTtlMs })
      t.equal((await state(k)).failures, 2)
      const windowLeft = (await state(k)).failuresMs
      t.ok(windowLeft > 0 && windowLeft <= shortTtlMs, `the failure window (${windowLeft})`)

      await elapse(shortTtlMs + 50)
      t.equal((await state(k)).lastStepMs, 0)
      t.equal((await state(k)).lastStep, 0, 'last step gone')
      t.equal((await state(k)).failures, 0, 'failures gone after the window')
      t.same(await store.acceptStep(k, 50, LONG), { status: 'accepted' }, 'after expiry the record is gone')

      const lockKeys = keys()
      const locked = await store.registerFailure(lockKeys, { max: 1, lockMs: shortTtlMs, windowMs: LONG })
      t.ok(locked.lockedMs > 0)
      t.equal((await store.acceptStep(lockKeys, 1, LONG)).status, 'locked')
      await elapse(shortTtlMs + 50)
      t.equal((await state(lockKeys)).lockedMs, 0, 'the lock expires')
      t.same(await store.acceptStep(lockKeys, 1, LONG), { status: 'accepted' }, 'and steps are accepted again')
      t.same(await store.registerFailure(lockKeys, { max: 1, lockMs: shortTtlMs, windowMs: LONG }), { failures: 1, lockedMs: shortTtlMs }, 'and failures count again')
    })

    t.test('the failure window is not extended by later failures', async (t) => {
      const k = keys()
      const opts = { max: 100, lockMs: 10_000, windowMs: shortTtlMs }
      await store.registerFailure(k, opts)
      await elapse(Math.floor(shortTtlMs / 2))
      await store.registerFailure(k, opts)
      t.equal((await state(k)).failures, 2)
      await elapse(Math.floor(shortTtlMs / 2) + 50)
      t.equal((await state(k)).failures, 0, 'the window runs from the first failure')
    })

    t.test('lockouts in a row double the lock, capped; a success or an unlock starts over', async (t) => {
      const k = keys()
      const policy = { max: 2, lockMs: 1000, windowMs: LONG, maxLockMs: 3000 }
      const lockOnce = async () => {
        await store.registerFailure(k, policy)
        const { lockedMs } = await store.registerFailure(k, policy)
        await store.unlock(k) // stands in for waiting the lock out…
        return lockedMs
      }
      // …but unlock also forgets the lockouts: lock twice without it.
      await store.registerFailure(k, policy)
      t.equal((await store.registerFailure(k, policy)).lockedMs, 1000, 'first lockout: lockMs')
      t.equal((await state(k)).lockouts, 1)
      await elapse(1050)
      await store.registerFailure(k, policy)
      const second = await store.registerFailure(k, policy)
      t.equal(second.lockedMs, 2000, 'second in a row: doubled')
      t.equal((await state(k)).lockouts, 2)
      await elapse(2050)
      await store.registerFailure(k, policy)
      t.equal((await store.registerFailure(k, policy)).lockedMs, 3000, 'third: capped at maxLockMs')
      await elapse(3050)
      t.same(await store.acceptStep(k, 9, LONG), { status: 'accepted' }, 'a success…')
      t.equal((await state(k)).lockouts, 0, '…forgets the lockouts')
      t.equal(await lockOnce(), 1000, 'and the next lock is the first again')
      t.equal((await state(k)).lockouts, 0, 'an administrator\'s unlock forgets them too')
      const plain = keys()
      await store.registerFailure(plain, { max: 1, lockMs: 1000, windowMs: LONG })
      await store.unlock(plain)
      await store.registerFailure(plain, { max: 1, lockMs: 1000, windowMs: LONG })
      t.equal((await store.lockedMs(plain)) <= 1000, true, 'without maxLockMs there is no escalation')
    })

    t.test('an SMS code used once is a replay afterwards, until a new code replaces it', async (t) => {
      const k = keys()
      const at = 1_800_000_000_000
      await store.putSmsCode(k, 'hx', at + 300_000, LONG)
      t.same(await store.consumeSmsCode(k, 'hx', at), { status: 'accepted' })
      const replays = await Promise.all(Array.from({ length: 10 }, (_, i) => (peers[i % peers.length] ?? store).consumeSmsCode(k, 'hx', at + 1)))
      t.ok(replays.every(r => r.status === 'replayed'), 'every double submit, on any instance')
      await store.putSmsCode(k, 'hy', at + 300_000, LONG)
      t.same(await store.consumeSmsCode(k, 'hx', at + 2), { status: 'rejected' }, 'a new code: the old one is just wrong')
      t.same(await store.consumeSmsCode(k, 'hy', at + 2), { status: 'accepted' })
    })

    t.test('a burst of 50 acceptStep with one step: exactly one accepted', async (t) => {
      const k = keys()
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (peers[i % peers.length] ?? store).acceptStep(k, 4242, LONG)))
      t.equal(results.filter(r => r.status === 'accepted').length, 1)
      t.equal(results.filter(r => r.status === 'replayed').length, 49)
    })

    t.test('a burst of 50 acceptStep with different steps: none older than an accepted one follows it', async (t) => {
      const k = keys()
      const steps = Array.from({ length: 50 }, (_, i) => 1000 + (i * 7) % 50)
      const results = await Promise.all(steps.map((step, i) => (peers[i % peers.length] ?? store).acceptStep(k, step, LONG)))
      t.ok(results.filter(r => r.status === 'accepted').length >= 1)
      t.equal((await state(k)).lastStep, Math.max(...steps.filter((_, i) => results[i]?.status === 'accepted')), 'the highest accepted step is the record')
    })

    t.test('a burst of 20 registerFailure: no lost increments', async (t) => {
      const k = keys()
      const opts = { max: 100, lockMs: 30_000, windowMs: LONG }
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (peers[i % peers.length] ?? store).registerFailure(k, opts)))
      t.equal((await state(k)).failures, 20)
      t.same(results.map(r => r.failures).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'each call saw its own count')
      t.ok(results.every(r => r.lockedMs === 0))
    })

    t.test('a burst crossing max locks exactly once', async (t) => {
      const k = keys()
      const opts = { max: 5, lockMs: 30_000, windowMs: LONG }
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (peers[i % peers.length] ?? store).registerFailure(k, opts)))
      t.equal(results.filter(r => r.failures === 5 && r.lockedMs > 0).length, 1, 'one call locked')
      t.equal(results.filter(r => r.lockedMs === 0).length, 4, 'four counted before the lock')
      t.equal(results.filter(r => r.failures === 0 && r.lockedMs > 0).length, 15, 'the rest found it locked')
      t.equal((await state(k)).failures, 0)
    })

    t.test('consumeCode: once, only the right hash, only before its expiry', async (t) => {
      const k = keys()
      const at = 1_800_000_000_000
      t.same(await store.consumeSmsCode(k, 'h1', at), { status: 'rejected' }, 'no record')
      await store.putSmsCode(k, 'h1', at + 300_000, LONG)
      await store.registerFailure(k, { max: 5, lockMs: 30_000, windowMs: LONG })
      t.same(await store.consumeSmsCode(k, 'h2', at), { status: 'rejected' }, 'wrong hash')
      t.same(await store.consumeSmsCode(k, 'h1', at + 1000), { status: 'accepted' }, 'right hash')
      t.equal((await state(k)).failures, 0, 'acceptance clears the failure count')
      t.same(await store.consumeSmsCode(k, 'h1', at + 2000), { status: 'replayed' }, 'never twice: the same code again is a replay')
      t.same(await store.consumeSmsCode(k, 'h9', at + 2000), { status: 'rejected' }, 'another code after it is still wrong')

      await store.putSmsCode(k, 'h3', at + 300_000, LONG)
      t.same(await store.consumeSmsCode(k, 'h3', at + 300_000), { status: 'rejected' }, 'at its expiry the code is dead')
      t.same(await store.consumeSmsCode(k, 'h3', at), { status: 'rejected' }, 'and was deleted')

      await store.putSmsCode(k, 'h4', at + 300_000, LONG)
      await store.putSmsCode(k, 'h5', at + 300_000, LONG)
      t.same(await store.consumeSmsCode(k, 'h4', at), { status: 'rejected' }, 'a new code replaces the earlier one')
      await store.registerFailure(k, { max: 1, lockMs: 30_000, windowMs: LONG })
      const locked = await store.consumeSmsCode(k, 'h5', at)
      t.equal(locked.status, 'locked', 'refused while locked')
      await store.unlock(k)
      t.same(await store.consumeSmsCode(k, 'h5', at), { status: 'accepted' }, 'the lock did not use it up')
    })

    t.test('a burst of 50 consumeCode with the right hash: exactly one accepted', async (t) => {
      const k = keys()
      await store.putSmsCode(k, 'burst', 2_000_000_000_000, LONG)
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (peers[i % peers.length] ?? store).consumeSmsCode(k, 'burst', 1_900_000_000_000)))
      t.equal(results.filter(r => r.status === 'accepted').length, 1)
    })

    t.test('takeSendSlot: one per interval, max per window', async (t) => {
      const k = keys()
      const throttle = { intervalMs: 60_000, max: 3, windowMs: 3_600_000 }
      const t0 = 1_800_000_000_000
      t.same(await store.takeSendSlot(k, t0, throttle), { allowed: true, retryAfterMs: 0 })
      t.same(await store.takeSendSlot(k, t0 + 59_000, throttle), { allowed: false, retryAfterMs: 1000 }, 'within the interval')
      t.same(await store.takeSendSlot(k, t0 + 60_000, throttle), { allowed: true, retryAfterMs: 0 })
      t.same(await store.takeSendSlot(k, t0 + 120_000, throttle), { allowed: true, retryAfterMs: 0 })
      t.same(await store.takeSendSlot(k, t0 + 180_000, throttle), { allowed: false, retryAfterMs: 3_600_000 - 180_000 }, 'the window is full')
      t.same(await store.takeSendSlot(k, t0 + 3_600_000, throttle), { allowed: true, retryAfterMs: 0 }, 'a new window')
      await store.releaseSendInterval(k, t0 + 3_600_000)
      t.same(await store.takeSendSlot(k, t0 + 3_600_001, throttle), { allowed: true, retryAfterMs: 0 }, 'a released interval (failed send) may be retried at once')
      t.ok((await state(k)).sendThrottleMs > 0, 'the throttle expires by itself')
      const absent = keys()
      await store.releaseSendInterval(absent, t0)
      t.equal((await state(absent)).sendThrottleMs, 0, 'releasing an absent throttle creates nothing')
    })

    t.test('a burst of 30 takeSendSlot: exactly one slot', async (t) => {
      const k = keys()
      const throttle = { intervalMs: 60_000, max: 5, windowMs: 3_600_000 }
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (peers[i % peers.length] ?? store).takeSendSlot(k, 1_800_000_000_000, throttle)))
      t.equal(results.filter(r => r.allowed).length, 1)
    })

    t.test('login receipts: attempts, single spend, ended by endReceipts, a lock and forget', async (t) => {
      const k = keys()
      t.equal(await store.putReceipt(k, 'r1', 'totp:1', LONG), 0, 'kept: 0')
      for (let i = 0; i < 3; i++) t.same(await store.claimReceiptAttempt(k, 'r1', 3), { status: 'claimed', binding: 'totp:1' }, `attempt ${i + 1}`)
      t.same(await store.claimReceiptAttempt(k, 'r1', 3), { status: 'dead' }, 'out of attempts')
      t.equal(await store.spendReceipt(k, 'r1'), true, 'an attempt in flight still spends it')
      t.equal(await store.spendReceipt(k, 'r1'), false, 'once')
      t.same(await store.claimReceiptAttempt(k, 'r1', 3), { status: 'dead' }, 'spent')

      await store.putReceipt(k, 'r2', 'b', LONG)
      t.same(await store.claimReceiptAttempt(keys(), 'r2', 5), { status: 'dead' }, 'not another user\'s')
      await store.endReceipts(k)
      t.same(await store.claimReceiptAttempt(k, 'r2', 5), { status: 'dead' }, 'ended by endReceipts')
      await store.putReceipt(k, 'r3', 'b', LONG)
      t.equal((await store.claimReceiptAttempt(k, 'r3', 5)).status, 'claimed', 'a receipt issued after the end works')

      const locked = await store.registerFailure(k, { max: 1, lockMs: 30_000, windowMs: LONG })
      t.ok(locked.lockedMs > 0)
      const during = await store.claimReceiptAttempt(k, 'r3', 5)
      t.equal(during.status, 'locked', 'locked: says so')
      t.ok(during.status === 'locked' && during.lockedMs > 0 && during.lockedMs <= 30_000)
      t.equal(await store.putReceipt(k, 'unchecked', 'b', LONG), 0, 'without checkLock: kept while locked')
      const refused = await store.putReceipt(k, 'while-locked', 'b', LONG, true)
      t.ok(refused > 0 && refused <= 30_000, 'with checkLock: none while locked, the lock\'s ms instead')
      await store.unlock(k)
      t.same(await store.claimReceiptAttempt(k, 'while-locked', 5), { status: 'dead' }, 'and none was kept')
      t.same(await store.claimReceiptAttempt(k, 'r3', 5), { status: 'dead' }, 'dead after the lock')

      await store.putReceipt(k, 'r4', 'b', LONG)
      await store.forget(k)
      t.same(await store.claimReceiptAttempt(k, 'r4', 5), { status: 'dead' }, 'ended by forget')

      await store.putReceipt(k, 'r5', 'b', shortTtlMs)
      await elapse(shortTtlMs + 50)
      t.same(await store.claimReceiptAttempt(k, 'r5', 5), { status: 'dead' }, 'expired')
    })

    t.test('a burst of 30 claimReceiptAttempt: exactly max claimed; of 10 spends, one', async (t) => {
      const k = keys()
      await store.putReceipt(k, 'burst', 'b', LONG)
      const claims = await Promise.all(Array.from({ length: 30 }, (_, i) => (peers[i % peers.length] ?? store).claimReceiptAttempt(k, 'burst', 5)))
      t.equal(claims.filter(c => c.status === 'claimed').length, 5)
      const spends = await Promise.all(Array.from({ length: 10 }, (_, i) => (peers[i % peers.length] ?? store).spendReceipt(k, 'burst')))
      t.equal(spends.filter(Boolean).length, 1)
    })

    t.test('redeemReceiptCode: the attempt, the code against the receipt\'s hashes, the step and the spend in one', async (t) => {
      const k = keys()
      // The receipt keeps a hash per step; a candidate is a step with the typed code's hash for it.
      const codes = (floor = 0) => ({ codes: [[10, 'h10'], [11, 'h11'], [12, 'h12'], [13, 'h13'], [20, 'h20'], [21, 'h21'], [30, 'h30']] as const, floor, context: `ctx:${floor}` })
      const redeem = async (hash: string, candidates: ReadonlyArray<readonly [number, string]>, on: EphemeralStore = store, user = k) =>
        await on.redeemReceiptCode(user, hash, { maxAttempts: 3, candidates, ttlMs: LONG })
      await store.putReceipt(k, 'r1', 'totp:1', LONG, false, codes())
      t.same(await redeem('r1', [[9, 'h10'], [10, 'nope'], [11, 'h10']]), { status: 'rejected' }, 'a hash for another step does not match: an attempt taken')
      t.same(await redeem('r1', []), { status: 'rejected' }, 'no candidate (not six digits): an attempt taken')
      t.same(await redeem('r1', [[9, 'x'], [10, 'h10'], [11, 'h11']]), { status: 'accepted', step: 10, context: 'ctx:0' }, 'the first candidate that matches, with the context')
      t.same(await redeem('r1', [[11, 'h11']]), { status: 'dead' }, 'spent with the accepted step')
      t.same(await store.acceptStep(k, 10, LONG), { status: 'replayed' }, 'the step is used for every path')

      await store.putReceipt(k, 'r2', 'totp:1', LONG, false, codes())
      t.same(await redeem('r2', [[10, 'h10']]), { status: 'replayed' }, 'a used step: refused, the receipt goes on')
      t.same(await redeem('r2', [[12, 'wrong']]), { status: 'rejected' })
      t.same(await redeem('r2', [[11, 'h11']]), { status: 'accepted', step: 11, context: 'ctx:0' }, 'the third attempt')
      await store.putReceipt(k, 'r2b', 'totp:1', LONG, false, codes(13))
      t.same(await redeem('r2b', [[13, 'h13']]), { status: 'replayed' }, 'the floor kept with the receipt counts as used')
      t.same(await redeem('r2b', [[20, 'h20']]), { status: 'accepted', step: 20, context: 'ctx:13' })
      await store.putReceipt(k, 'r2c', 'totp:1', LONG, false, codes())
      for (let i = 0; i < 3; i++) await redeem('r2c', [[30, 'wrong']])
      t.same(await redeem('r2c', [[30, 'h30']]), { status: 'dead' }, 'out of attempts (3 of 3 taken)')

      await store.putReceipt(k, 'plain', 'sms:1', LONG)
      t.same(await redeem('plain', [[30, 'h30']]), { status: 'uncoded' }, 'a receipt without codes: left to the other way')
      t.same(await store.claimReceiptAttempt(k, 'plain', 1), { status: 'claimed', binding: 'sms:1' }, 'with no attempt taken')
      t.same(await redeem('missing', [[30, 'h30']]), { status: 'dead' }, 'an unknown receipt')

      await store.putReceipt(k, 'r3', 'totp:1', LONG, false, codes())
      t.same(await redeem('r3', [[21, 'h21']], store, keys()), { status: 'dead' }, 'not another user\'s')
      await store.endReceipts(k)
      t.same(await redeem('r3', [[21, 'h21']]), { status: 'dead' }, 'ended by endReceipts')

      await store.putReceipt(k, 'r4', 'totp:1', LONG, false, codes())
      await store.registerFailure(k, { max: 1, lockMs: 30_000, windowMs: LONG })
      const locked = await redeem('r4', [[21, 'h21']])
      t.equal(locked.status, 'locked', 'locked: says so, with its time')
      t.ok(locked.status === 'locked' && locked.lockedMs > 0 && locked.lockedMs <= 30_000)
      t.ok(await store.putReceipt(k, 'while-locked', 'totp:1', LONG, true, codes()) > 0, 'with checkLock: none kept while locked, the lock\'s ms instead')
      await store.unlock(k)
      t.same(await redeem('r4', [[21, 'h21']]), { status: 'dead' }, 'the lock ended the receipt')
      t.same(await redeem('while-locked', [[21, 'h21']]), { status: 'dead' }, 'and none was kept during it')

      await store.putReceipt(k, 'r5', 'totp:1', LONG, false, codes())
      await store.forget(k)
      t.same(await redeem('r5', [[21, 'h21']]), { status: 'dead' }, 'ended by forget')

      await store.putReceipt(k, 'r6', 'totp:1', shortTtlMs, false, codes())
      await elapse(shortTtlMs + 50)
      t.same(await redeem('r6', [[21, 'h21']]), { status: 'dead' }, 'expired')

      await store.putReceipt(k, 'burst', 'totp:1', LONG, false, codes())
      const burst = await Promise.all(Array.from({ length: 30 }, async (_, i) => await redeem('burst', [[30, 'h30']], peers[i % peers.length] ?? store)))
      t.equal(burst.filter(r => r.status === 'accepted').length, 1, 'a burst of one code across instances: one login')
      t.equal(burst.filter(r => r.status === 'dead').length, 29, 'every other finds the receipt spent')
    })

    t.test('state, lockedMs, forget, ping', async (t) => {
      const k = keys()
      t.equal((await state(k)).lockedMs, 0, 'absent key: 0')
      t.equal((await state(k)).failures, 0, 'absent counter: 0')
      await store.acceptStep(k, 77, 10_000)
      const left = (await state(k)).lastStepMs
      t.ok(left > 9000 && left <= 10_000, `remaining ≈ ttl (${left})`)
      await store.registerFailure(k, { max: 1, lockMs: 20_000, windowMs: LONG })
      t.ok((await state(k)).lockedMs > 19_000)
      t.ok(await store.lockedMs(k) > 19_000, 'lockedMs reads the same lock')
      await store.forget(k)
      t.equal((await state(k)).lockedMs, 0, 'deleted lock')
      t.equal((await state(k)).lastStep, 77, 'the used step stays: a login in flight with its code must find it spent')
      t.same(await store.acceptStep(k, 77, LONG), { status: 'replayed' })
      await store.forget('never-existed')
      await store.unlock('never-existed')
      await store.resetFailures('never-existed')
      t.same(await state('never-existed'), { lastStep: 0, lastStepMs: 0, failures: 0, failuresMs: 0, lockedMs: 0, sendThrottleMs: 0, lockouts: 0 }, 'an unknown user has no state')
      await t.resolves(store.ping())
      t.ok(store.kind === 'memory' || store.kind === 'redis')
    })
  })
}

storeContract('memory store', async (t) => {
  const clock = new TestClock()
  const store = createMemoryStore(clock.now)
  t.teardown(() => store.close())
  return {
    store,
    peers: [store],
    shortTtlMs: 1000,
    elapse: async (ms) => { clock.advance(ms) }
  }
})

storeContract(TEST_REDIS_CLUSTER_NODES === undefined ? 'redis store' : 'redis store on a 3-master cluster', async (t) => {
  const prefix = `test:contract:${randomBytes(6).toString('hex')}:`
  // Several connections: as several service instances would share one Redis.
  const clients = Array.from({ length: 4 }, () => createTestRedis())
  const stores = clients.map(client => createRedisStore(client, prefix))
  t.teardown(async () => {
    const first = clients[0]!
    for (const node of first instanceof Cluster ? first.nodes('master') : [first]) {
      for (const key of await node.keys(`${prefix}*`)) await node.del(key)
    }
    for (const client of clients) client.disconnect()
  })
  const store = stores[0]
  if (store === undefined) throw new Error('no store')
  t.equal(store.kind, 'redis')
  return {
    store,
    peers: stores,
    shortTtlMs: 150,
    // Real time on Redis: the only place a short sleep stands in for a clock.
    elapse: async (ms) => { await sleep(ms) }
  }
})

t.test('memory store: the clock, not wall time, drives expiry', async (t) => {
  const clock = new TestClock(1_000_000)
  const store = createMemoryStore(clock.now)
  t.teardown(() => store.close())
  const k = freshUser()
  await store.registerFailure(k, { max: 1, lockMs: 5000, windowMs: 5000 })
  clock.advance(4999)
  t.equal(await store.lockedMs(k), 1)
  clock.advance(1)
  t.equal(await store.lockedMs(k), 0)
})

t.test('redis store: a dead connection is a DependencyUnavailableError, not a result', async (t) => {
  const client = new Redis('redis://127.0.0.1:6390', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  t.teardown(() => client.disconnect())
  await client.connect().catch(() => {})
  const store = createRedisStore(client, 'dead:')
  const k = freshUser()
  await t.rejects(store.acceptStep(k, 1, 1000), { name: 'DependencyUnavailableError', dependency: 'store' })
  await t.rejects(store.registerFailure(k, { max: 1, lockMs: 1000, windowMs: 1000 }), { name: 'DependencyUnavailableError' })
  await t.rejects(store.lockedMs(k), { name: 'DependencyUnavailableError' })
  await t.rejects(store.state(k), { name: 'DependencyUnavailableError' })
  await t.rejects(store.ping(), { name: 'DependencyUnavailableError' })
})
