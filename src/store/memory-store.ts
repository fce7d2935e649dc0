import type { AcceptResult, EphemeralStore, ReceiptClaim, ReceiptCodes } from './ephemeral-store.js'
import { factorKeys, smsQuotaKey } from './keys.js'
import { escalatedLockMs, LOCKOUT_MEMORY_MS } from './lockouts.js'

interface Entry { value: number, expiresAt: number }
interface CodeRecord { hash: string, validUntil: number, expiresAt: number, used?: true }
interface ReceiptRecord { userId: string, binding: string, attempts: number, epoch: number, expiresAt: number, coded?: { floor: number, context: string, codes: Map<number, string> } }
interface ThrottleRecord { nextAt: number, start: number, count: number, expiresAt: number }

/**
 * In-process store for the embedded single-instance mode. No method awaits before it has
 * finished its reads and writes, so on one event loop each is as atomic as the Redis script it
 * mirrors.
 */
export function createMemoryStore (now: () => number = Date.now): EphemeralStore {
  const entries = new Map<string, Entry>()
  const codes = new Map<string, CodeRecord>()
  const throttles = new Map<string, ThrottleRecord>()
  const quotas = new Map<string, Entry>()
  const receipts = new Map<string, ReceiptRecord>()
  // Bumped to end every receipt of a user issued before (a lock, a reset, a password change).
  const epochs = new Map<string, number>()
  const epochOf = (userId: string) => epochs.get(userId) ?? 0
  const endReceipts = (userId: string) => { epochs.set(userId, epochOf(userId) + 1) }
  const keysOf = (userId: string) => factorKeys('', userId)
  const sweep = setInterval(() => {
    const t = now()
    for (const map of [entries, codes, throttles, quotas, receipts]) {
      for (const [key, entry] of map) if (entry.expiresAt <= t) map.delete(key)
    }
  }, 60_000)
  sweep.unref()

  function read (key: string): Entry | undefined {
    const entry = entries.get(key)
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key)
      return undefined
    }
    return entry
  }
  const remaining = (key: string) => {
    const entry = read(key) ?? codes.get(key) ?? throttles.get(key)
    return entry && entry.expiresAt > now() ? entry.expiresAt - now() : 0
  }
  const drop = (...keys: string[]) => {
    for (const key of keys) {
      entries.delete(key)
      codes.delete(key)
    }
  }

  function acceptStep (userId: string, step: number, ttlMs: number, floor: number): AcceptResult {
    const k = keysOf(userId)
    const lockedMs = remaining(k.lock)
    if (lockedMs > 0) return { status: 'locked', lockedMs }
    if (Math.max(read(k.lastStep)?.value ?? 0, floor) >= step) return { status: 'replayed' }
    entries.set(k.lastStep, { value: step, expiresAt: now() + ttlMs })
    entries.delete(k.failures)
    entries.delete(k.lockouts)
    return { status: 'accepted' }
  }

  function claim (userId: string, hash: string, maxAttempts: number): ReceiptClaim {
    const record = receipts.get(hash)
    if (record?.userId !== userId || record.expiresAt <= now()) return { status: 'dead' }
    const lockedMs = remaining(keysOf(record.userId).lock)
    if (lockedMs > 0) return { status: 'locked', lockedMs }
    if (record.epoch !== epochOf(record.userId)) {
      receipts.delete(hash)
      return { status: 'dead' }
    }
    // Out of attempts, but kept: an attempt still in flight may be the right code and must find it to spend it.
    if (record.attempts >= maxAttempts) return { status: 'dead' }
    record.attempts++
    return { status: 'claimed', binding: record.binding }
  }

  return {
    kind: 'memory',
    async acceptStep (userId, step, ttlMs, floor = 0) {
      return acceptStep(userId, step, ttlMs, floor)
    },
    async registerFailure (userId, { max, lockMs, windowMs, maxLockMs = lockMs, lockoutMemoryMs = LOCKOUT_MEMORY_MS }) {
      const k = keysOf(userId)
      const lockedMs = remaining(k.lock)
      if (lockedMs > 0) return { failures: read(k.failures)?.value ?? 0, lockedMs }
      const entry = read(k.failures)
      const failures = (entry?.value ?? 0) + 1
      if (failures >= max) {
        entries.delete(k.failures)
        const lockouts = (read(k.lockouts)?.value ?? 0) + 1
        entries.set(k.lockouts, { value: lockouts, expiresAt: now() + lockoutMemoryMs })
        const ms = escalatedLockMs(lockMs, maxLockMs, lockouts)
        entries.set(k.lock, { value: 1, expiresAt: now() + ms })
        endReceipts(userId)
        return { failures, lockedMs: ms }
      }
      entries.set(k.failures, { value: failures, expiresAt: entry?.expiresAt ?? now() + windowMs })
      return { failures, lockedMs: 0 }
    },
    async putSmsCode (userId, hash, expiresAt, ttlMs) {
      codes.set(keysOf(userId).smsCode, { hash, validUntil: expiresAt, expiresAt: now() + ttlMs })
    },
    async consumeSmsCode (userId, hash, at) {
      const k = keysOf(userId)
      const lockedMs = remaining(k.lock)
      if (lockedMs > 0) return { status: 'locked', lockedMs }
      const record = codes.get(k.smsCode)
      if (record === undefined || record.expiresAt <= now()) return { status: 'rejected' }
      if (record.used === true) return { status: record.hash === hash ? 'replayed' : 'rejected' }
      if (at >= record.validUntil) {
        codes.delete(k.smsCode)
        return { status: 'rejected' }
      }
      if (record.hash !== hash) return { status: 'rejected' }
      record.used = true
      entries.delete(k.failures)
      entries.delete(k.lockouts)
      return { status: 'accepted' }
    },
    async takeSendSlot (userId, at, { intervalMs, max, windowMs }) {
      const key = keysOf(userId).smsSend
      const found = throttles.get(key)
      const state = found !== undefined && found.expiresAt > now() ? found : { nextAt: 0, start: 0, count: 0, expiresAt: 0 }
      if (at < state.nextAt) return { allowed: false, retryAfterMs: state.nextAt - at }
      const fresh = at - state.start >= windowMs
      const start = fresh ? at : state.start
      const count = fresh ? 0 : state.count
      if (count >= max) return { allowed: false, retryAfterMs: start + windowMs - at }
      throttles.set(key, { nextAt: at + intervalMs, start, count: count + 1, expiresAt: now() + windowMs + intervalMs })
      return { allowed: true, retryAfterMs: 0 }
    },
    async releaseSendInterval (userId, takenAt) {
      const found = throttles.get(keysOf(userId).smsSend)
      if (found !== undefined) found.nextAt = takenAt
    },
    async takeSmsQuota (scope, id, { max, windowMs }) {
      const key = smsQuotaKey('', scope, id)
      const found = quotas.get(key)
      const entry = found !== undefined && found.expiresAt > now() ? found : { value: 0, expiresAt: now() + windowMs }
      if (entry.value >= max) return { allowed: false, retryAfterMs: Math.max(1, entry.expiresAt - now()) }
      quotas.set(key, { value: entry.value + 1, expiresAt: entry.expiresAt })
      return { allowed: true, retryAfterMs: 0 }
    },
    async lockedMs (userId) {
      return remaining(keysOf(userId).lock)
    },
    async state (userId) {
      const k = keysOf(userId)
      return {
        lastStep: read(k.lastStep)?.value ?? 0,
        lastStepMs: remaining(k.lastStep),
        failures: read(k.failures)?.value ?? 0,
        failuresMs: remaining(k.failures),
        lockedMs: remaining(k.lock),
        sendThrottleMs: remaining(k.smsSend),
        lockouts: read(k.lockouts)?.value ?? 0
      }
    },
    async resetFailures (userId) {
      const k = keysOf(userId)
      drop(k.failures, k.lockouts)
    },
    async unlock (userId) {
      const k = keysOf(userId)
      drop(k.failures, k.lock, k.lockouts)
    },
    async forget (userId) {
      const k = keysOf(userId)
      drop(k.failures, k.lock, k.lockouts, k.smsCode)
      endReceipts(userId)
    },
    async putReceipt (userId, hash, binding, ttlMs, checkLock = false, codes?: ReceiptCodes) {
      const lockedMs = checkLock ? remaining(keysOf(userId).lock) : 0
      if (lockedMs > 0) return lockedMs
      const coded = codes === undefined ? undefined : { floor: codes.floor, context: codes.context, codes: new Map(codes.codes) }
      receipts.set(hash, { userId, binding, attempts: 0, epoch: epochOf(userId), expiresAt: now() + ttlMs, ...(coded === undefined ? {} : { coded }) })
      return 0
    },
    async claimReceiptAttempt (userId, hash, maxAttempts) {
      return claim(userId, hash, maxAttempts)
    },
    async redeemReceiptCode (userId, hash, { maxAttempts, candidates, ttlMs }) {
      const record = receipts.get(hash)
      if (record?.userId !== userId || record.expiresAt <= now()) return { status: 'dead' }
      if (record.coded === undefined) return { status: 'uncoded' }
      const { floor, context, codes } = record.coded
      const claimed = claim(userId, hash, maxAttempts)
      if (claimed.status !== 'claimed') return claimed
      const step = candidates.find(([step, code]) => codes.get(step) === code)?.[0]
      if (step === undefined) return { status: 'rejected' }
      const accepted = acceptStep(userId, step, ttlMs, floor)
      if (accepted.status !== 'accepted') return accepted
      receipts.delete(hash)
      return { status: 'accepted', step, context }
    },
    async spendReceipt (userId, hash) {
      const record = receipts.get(hash)
      if (record?.userId !== userId) return false
      receipts.delete(hash)
      return true
    },
    async endReceipts (userId) {
      endReceipts(userId)
    },
    async ping () {},
    async close () {
      clearInterval(sweep)
      entries.clear()
      codes.clear()
      throttles.clear()
      quotas.clear()
      receipts.clear()
      epochs.clear()
    }
  }
}
