import type { Cluster, Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'
import type { AcceptResult, EphemeralStore } from './ephemeral-store.js'

// Check-and-set must be one step: two instances reading then writing would both accept a code.
// KEYS: lock, last step, failures. Returns {1} accepted, {0} replayed, {-1, pttl} locked.
const ACCEPT_STEP = `
local locked = redis.call('PTTL', KEYS[1])
if locked > 0 then return {-1, locked} end
local last = redis.call('GET', KEYS[2])
if last and tonumber(last) >= tonumber(ARGV[1]) then return {0} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3])
return {1}`

// INCR and the lock in one script, so a burst of failures can neither lose a count nor skip the
// lock. KEYS: failures, lock. ARGV: max, lock ms, window ms. Returns {failures, locked pttl}.
const REGISTER_FAILURE = `
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return {tonumber(redis.call('GET', KEYS[1]) or '0'), locked} end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if failures >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  return {failures, tonumber(ARGV[2])}
end
return {failures, 0}`

// Lock check, expiry check, compare and delete in one step: a code is used once across every
// instance. KEYS: lock, code, failures. ARGV: hash, now. Returns {1} accepted, {0} rejected, {-1, pttl} locked.
const CONSUME_CODE = `
local locked = redis.call('PTTL', KEYS[1])
if locked > 0 then return {-1, locked} end
local record = redis.call('GET', KEYS[2])
if not record then return {0} end
local sep = string.find(record, ':', 1, true)
if tonumber(ARGV[2]) >= tonumber(string.sub(record, 1, sep - 1)) then
  redis.call('DEL', KEYS[2])
  return {0}
end
if string.sub(record, sep + 1) ~= ARGV[1] then return {0} end
redis.call('DEL', KEYS[2], KEYS[3])
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

// KEYS: throttle hash. ARGV: the time the slot was taken.
const RELEASE_SEND_INTERVAL = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'next', ARGV[1]) end
return 1`

interface ScriptCommands {
  twofoldAcceptStep: (lock: string, lastStep: string, failures: string, step: number, ttlMs: number) => Promise<number[]>
  twofoldRegisterFailure: (failures: string, lock: string, max: number, lockMs: number, windowMs: number) => Promise<[number, number]>
  twofoldConsumeCode: (lock: string, code: string, failures: string, hash: string, now: number) => Promise<number[]>
  twofoldTakeSendSlot: (key: string, now: number, intervalMs: number, max: number, windowMs: number) => Promise<[number, number]>
  twofoldReleaseSendInterval: (key: string, takenAt: number) => Promise<number>
}

export function createRedisStore (client: Redis | Cluster): EphemeralStore {
  client.defineCommand('twofoldAcceptStep', { numberOfKeys: 3, lua: ACCEPT_STEP })
  client.defineCommand('twofoldRegisterFailure', { numberOfKeys: 2, lua: REGISTER_FAILURE })
  client.defineCommand('twofoldConsumeCode', { numberOfKeys: 3, lua: CONSUME_CODE })
  client.defineCommand('twofoldTakeSendSlot', { numberOfKeys: 1, lua: TAKE_SEND_SLOT })
  client.defineCommand('twofoldReleaseSendInterval', { numberOfKeys: 1, lua: RELEASE_SEND_INTERVAL })
  const redis = client as (Redis | Cluster) & ScriptCommands

  async function call<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new DependencyUnavailableError('store', { cause: err })
    }
  }

  return {
    kind: 'redis',
    async acceptStep (keys, step, ttlMs): Promise<AcceptResult> {
      const [status, lockedMs] = await call(() => redis.twofoldAcceptStep(keys.lock, keys.lastStep, keys.failures, step, ttlMs))
      if (status === 1) return { status: 'accepted' }
      if (status === 0) return { status: 'replayed' }
      return { status: 'locked', lockedMs: lockedMs ?? 0 }
    },
    async registerFailure (keys, { max, lockMs, windowMs }) {
      const [failures, lockedMs] = await call(() => redis.twofoldRegisterFailure(keys.failures, keys.lock, max, lockMs, windowMs))
      return { failures, lockedMs }
    },
    async putCode (key, hash, expiresAt, ttlMs) {
      await call(() => redis.set(key, `${expiresAt}:${hash}`, 'PX', ttlMs))
    },
    async consumeCode (keys, hash, now) {
      const [status, lockedMs] = await call(() => redis.twofoldConsumeCode(keys.lock, keys.smsCode, keys.failures, hash, now))
      if (status === 1) return { status: 'accepted' }
      if (status === 0) return { status: 'rejected' }
      return { status: 'locked', lockedMs: lockedMs ?? 0 }
    },
    async takeSendSlot (key, now, { intervalMs, max, windowMs }) {
      const [allowed, retryAfterMs] = await call(() => redis.twofoldTakeSendSlot(key, now, intervalMs, max, windowMs))
      return { allowed: allowed === 1, retryAfterMs }
    },
    async releaseSendInterval (key, takenAt) {
      await call(() => redis.twofoldReleaseSendInterval(key, takenAt))
    },
    async remainingMs (key) {
      const ttl = await call(() => redis.pttl(key))
      return ttl > 0 ? ttl : 0
    },
    async getCount (key) {
      return Number(await call(() => redis.get(key)) ?? 0)
    },
    async delete (...keys) {
      // One DEL per key: keys of different users may live in different cluster slots.
      await call(() => Promise.all(keys.map(key => redis.del(key))))
    },
    async ping () {
      await call(() => redis.ping())
    },
    async close () {}
  }
}
