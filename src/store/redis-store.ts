import type { Cluster, Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'
import type { AcceptResult, EphemeralStore } from './ephemeral-store.js'
import { factorKeys, smsQuotaKey } from './keys.js'
import { LOCKOUT_MEMORY_MS } from './lockouts.js'

// Check-and-set must be one step: two instances reading then writing would both accept a code.
// KEYS: lock, last step, failures, lockouts. ARGV: step, ttl ms, floor (the database's last step).
// Returns {1} accepted, {0} replayed, {-1, pttl} locked.
const ACCEPT_STEP = `
local locked = redis.call('PTTL', KEYS[1])
if locked > 0 then return {-1, locked} end
local last = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[3]))
if last >= tonumber(ARGV[1]) then return {0} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3], KEYS[4])
return {1}`

// INCR and the lock in one script, so a burst of failures can neither lose a count nor skip the
// lock. Each lockout in a row doubles the next lock (capped): five guesses per lock, forever,
// would otherwise add up. KEYS: failures, lock, lockouts. ARGV: max, lock ms, window ms,
// max lock ms, lockout memory ms. Returns {failures, locked pttl}.
const REGISTER_FAILURE = `
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return {tonumber(redis.call('GET', KEYS[1]) or '0'), locked} end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if failures >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  local lockouts = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
  local lockMs = math.floor(math.min(tonumber(ARGV[2]) * 2 ^ math.min(lockouts - 1, 40), tonumber(ARGV[4])))
  redis.call('SET', KEYS[2], '1', 'PX', lockMs)
  return {failures, lockMs}
end
return {failures, 0}`

// Lock check, expiry check, compare and mark used in one step: a code is used once across every
// instance, and the same code again is known as a double submit, not a guess. KEYS: lock, code,
// failures, lockouts. ARGV: hash, now. Returns {1} accepted, {2} replayed, {0} rejected, {-1, pttl} locked.
const CONSUME_CODE = `
local locked = redis.call('PTTL', KEYS[1])
if locked > 0 then return {-1, locked} end
local record = redis.call('GET', KEYS[2])
if not record then return {0} end
if string.sub(record, 1, 5) == 'used:' then
  if string.sub(record, 6) == ARGV[1] then return {2} end
  return {0}
end
local sep = string.find(record, ':', 1, true)
if tonumber(ARGV[2]) >= tonumber(string.sub(record, 1, sep - 1)) then
  redis.call('DEL', KEYS[2])
  return {0}
end
if string.sub(record, sep + 1) ~= ARGV[1] then return {0} end
redis.call('SET', KEYS[2], 'used:' .. ARGV[1], 'KEEPTTL')
redis.call('DEL', KEYS[3], KEYS[4])
return {1}`

// Interval and window count checked and taken together, so a burst of requests gets one slot.
// KEYS: throttle hash. ARGV: now, interval ms, max, window ms. Returns {1, 0} or {0, retry after ms}.
const TAKE_SEND_SLOT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'next', 'start', 'count')
local nextAt = tonumber(state[1] or '0')
if now < nextAt then return {0, nextAt - now} end
local start = tonumber(state[2] or '0')
local count = tonumber(state[3] or '0')
if now - start >= window then
  start = now
  count = 0
end
if count >= tonumber(ARGV[3]) then return {0, start + window - now} end
redis.call('HSET', KEYS[1], 'next', string.format('%d', now + interval), 'start', string.format('%d', start), 'count', count + 1)
redis.call('PEXPIRE', KEYS[1], window + interval)
return {1, 0}`

// A fixed window that stops counting at its maximum. KEYS: the quota. ARGV: max, window ms.
// Returns {1, 0} taken or {0, ms until the window ends}.
const TAKE_QUOTA = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return {0, redis.call('PTTL', KEYS[1])} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, 0}`

// KEYS: throttle hash. ARGV: the time the slot was taken.
const RELEASE_SEND_INTERVAL = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'next', ARGV[1]) end
return 1`

// Read-only, one round trip for the whole view. KEYS: last step, failures, lock, send throttle, lockouts.
const READ_STATE = `
return {
  tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]),
  tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('PTTL', KEYS[2]),
  redis.call('PTTL', KEYS[3]), redis.call('PTTL', KEYS[4]),
  tonumber(redis.call('GET', KEYS[5]) or '0')
}`

interface ScriptCommands {
  twofoldAcceptStep: (lock: string, lastStep: string, failures: string, lockouts: string, step: number, ttlMs: number, floor: number) => Promise<number[]>
  twofoldRegisterFailure: (failures: string, lock: string, lockouts: string, max: number, lockMs: number, windowMs: number, maxLockMs: number, memoryMs: number) => Promise<[number, number]>
  twofoldConsumeCode: (lock: string, code: string, failures: string, lockouts: string, hash: string, now: number) => Promise<number[]>
  twofoldTakeSendSlot: (key: string, now: number, intervalMs: number, max: number, windowMs: number) => Promise<[number, number]>
  twofoldReleaseSendInterval: (key: string, takenAt: number) => Promise<number>
  twofoldTakeQuota: (key: string, max: number, windowMs: number) => Promise<[number, number]>
  twofoldReadState: (lastStep: string, failures: string, lock: string, smsSend: string, lockouts: string) => Promise<number[]>
}

const positive = (ms: number | undefined) => ms !== undefined && ms > 0 ? ms : 0

export function createRedisStore (client: Redis | Cluster, keyPrefix: string): EphemeralStore {
  client.defineCommand('twofoldAcceptStep', { numberOfKeys: 4, lua: ACCEPT_STEP })
  client.defineCommand('twofoldRegisterFailure', { numberOfKeys: 3, lua: REGISTER_FAILURE })
  client.defineCommand('twofoldConsumeCode', { numberOfKeys: 4, lua: CONSUME_CODE })
  client.defineCommand('twofoldTakeSendSlot', { numberOfKeys: 1, lua: TAKE_SEND_SLOT })
  client.defineCommand('twofoldReleaseSendInterval', { numberOfKeys: 1, lua: RELEASE_SEND_INTERVAL })
  client.defineCommand('twofoldTakeQuota', { numberOfKeys: 1, lua: TAKE_QUOTA })
  client.defineCommand('twofoldReadState', { numberOfKeys: 5, lua: READ_STATE })
  const redis = client as (Redis | Cluster) & ScriptCommands
  const keysOf = (userId: string) => factorKeys(keyPrefix, userId)

  async function call<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new DependencyUnavailableError({ cause: err })
    }
  }

  // Every key of one user shares a hash tag, so one DEL may name several of them on a cluster.
  const del = async (...keys: string[]) => { await call(() => redis.del(...keys)) }

  return {
    kind: 'redis',
    async acceptStep (userId, step, ttlMs, floor = 0): Promise<AcceptResult> {
      const k = keysOf(userId)
      const [status, lockedMs] = await call(() => redis.twofoldAcceptStep(k.lock, k.lastStep, k.failures, k.lockouts, step, ttlMs, floor))
      if (status === 1) return { status: 'accepted' }
      if (status === 0) return { status: 'replayed' }
      return { status: 'locked', lockedMs: lockedMs ?? 0 }
    },
    async registerFailure (userId, { max, lockMs, windowMs, maxLockMs = lockMs, lockoutMemoryMs = LOCKOUT_MEMORY_MS }) {
      const k = keysOf(userId)
      const [failures, lockedMs] = await call(() => redis.twofoldRegisterFailure(k.failures, k.lock, k.lockouts, max, lockMs, windowMs, Math.max(lockMs, maxLockMs), lockoutMemoryMs))
      return { failures, lockedMs }
    },
    async putSmsCode (userId, hash, expiresAt, ttlMs) {
      await call(() => redis.set(keysOf(userId).smsCode, `${expiresAt}:${hash}`, 'PX', ttlMs))
    },
    async consumeSmsCode (userId, hash, now) {
      const k = keysOf(userId)
      const [status, lockedMs] = await call(() => redis.twofoldConsumeCode(k.lock, k.smsCode, k.failures, k.lockouts, hash, now))
      if (status === 1) return { status: 'accepted' }
      if (status === 2) return { status: 'replayed' }
      if (status === 0) return { status: 'rejected' }
      return { status: 'locked', lockedMs: lockedMs ?? 0 }
    },
    async takeSendSlot (userId, now, { intervalMs, max, windowMs }) {
      const [allowed, retryAfterMs] = await call(() => redis.twofoldTakeSendSlot(keysOf(userId).smsSend, now, intervalMs, max, windowMs))
      return { allowed: allowed === 1, retryAfterMs }
    },
    async releaseSendInterval (userId, takenAt) {
      await call(() => redis.twofoldReleaseSendInterval(keysOf(userId).smsSend, takenAt))
    },
    async takeSmsQuota (scope, id, { max, windowMs }) {
      const [allowed, retryAfterMs] = await call(() => redis.twofoldTakeQuota(smsQuotaKey(keyPrefix, scope, id), max, windowMs))
      return { allowed: allowed === 1, retryAfterMs: allowed === 1 ? 0 : Math.max(1, retryAfterMs) }
    },
    async lockedMs (userId) {
      return positive(await call(() => redis.pttl(keysOf(userId).lock)))
    },
    async state (userId) {
      const k = keysOf(userId)
      const [lastStep = 0, lastStepMs, failures = 0, failuresMs, lockedMs, sendThrottleMs, lockouts = 0] = await call(() => redis.twofoldReadState(k.lastStep, k.failures, k.lock, k.smsSend, k.lockouts))
      return { lastStep, lastStepMs: positive(lastStepMs), failures, failuresMs: positive(failuresMs), lockedMs: positive(lockedMs), sendThrottleMs: positive(sendThrottleMs), lockouts }
    },
    async resetFailures (userId) {
      const k = keysOf(userId)
      await del(k.failures, k.lockouts)
    },
    async unlock (userId) {
      const k = keysOf(userId)
      await del(k.failures, k.lock, k.lockouts)
    },
    async forget (userId) {
      const k = keysOf(userId)
      await del(k.failures, k.lock, k.lockouts, k.smsCode)
    },
    async ping () {
      await call(() => redis.ping())
    },
    async close () {}
  }
}
