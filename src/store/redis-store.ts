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

interface ScriptCommands {
  twofoldAcceptStep: (lock: string, lastStep: string, failures: string, step: number, ttlMs: number) => Promise<number[]>
  twofoldRegisterFailure: (failures: string, lock: string, max: number, lockMs: number, windowMs: number) => Promise<[number, number]>
}

export function createRedisStore (client: Redis | Cluster): EphemeralStore {
  client.defineCommand('twofoldAcceptStep', { numberOfKeys: 3, lua: ACCEPT_STEP })
  client.defineCommand('twofoldRegisterFailure', { numberOfKeys: 2, lua: REGISTER_FAILURE })
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
