import type { Cluster, Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'
import type { AcceptResult, EphemeralStore } from './ephemeral-store.js'
import { factorKeys, smsQuotaKey } from './keys.js'
import { LOCKOUT_MEMORY_MS } from './lockouts.js'

// A receipt remembers the epoch it was issued in; bumping the epoch ends every receipt before it
// without knowing them. The epoch outlives any receipt (its TTL is renewed at each issue).
const RECEIPT_EPOCH_TTL_MS = 86_400_000

// A step newer than the last one used (and than the database's floor) becomes the last one, and
// the failures in a row end; true when accepted. Shared by the scripts that accept a step.
const TAKE_STEP = `
local function takeStep (lastKey, failuresKey, lockoutsKey, step, ttlMs, floor)
  local last = math.max(tonumber(redis.call('GET', lastKey) or '0'), tonumber(floor))
  if last >= tonumber(step) then return false end
  redis.call('SET', lastKey, step, 'PX', ttlMs)
  redis.call('DEL', failuresKey, lockoutsKey)
  return true
end`

// Check-and-set must be one step: two instances reading then writing would both accept a code.
// KEYS: lock, last step, failures, lockouts. ARGV: step, ttl ms, floor (the database's last step).
// Returns {1} accepted, {0} replayed, {-1, pttl} locked.
const ACCEPT_STEP = `${TAKE_STEP}
local locked = redis.call('PTTL', KEYS[1])
if locked > 0 then return {-1, locked} end
if takeStep(KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3]) then return {1} end
return {0}`

// INCR and the lock in one script, so a burst of failures can neither lose a count nor skip the
// lock. Each lockout in a row doubles the next lock (capped): five guesses per lock, forever,
// would otherwise add up. KEYS: failures, lock, lockouts. ARGV: max, lock ms, window ms,
// max lock ms, lockout memory ms. A lock also ends the login receipts issued before it (KEYS[4],
// the receipt epoch). Returns {failures, locked pttl}.
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
  redis.call('INCR', KEYS[4])
  redis.call('PEXPIRE', KEYS[4], ${RECEIPT_EPOCH_TTL_MS})
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

// With the lock to check (ARGV[3] '1'), a locked factor gets no receipt: the lock's ms are the
// answer, and the 401 becomes the 429. KEYS: receipt, epoch, lock. ARGV: binding, ttl ms, check
// the lock, then with codes (a TOTP factor's) the floor, the context and each step with its
// code's hash, kept as field c<step>. Returns 0 when stored.
const PUT_RECEIPT = `
if ARGV[3] == '1' then
  local locked = redis.call('PTTL', KEYS[3])
  if locked > 0 then return locked end
end
local epoch = redis.call('GET', KEYS[2]) or '0'
local fields = {'binding', ARGV[1], 'attempts', 0, 'epoch', epoch}
if #ARGV > 3 then
  table.insert(fields, 'floor') table.insert(fields, ARGV[4])
  table.insert(fields, 'context') table.insert(fields, ARGV[5])
  for i = 6, #ARGV, 2 do table.insert(fields, 'c' .. ARGV[i]) table.insert(fields, ARGV[i + 1]) end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if epoch ~= '0' then redis.call('PEXPIRE', KEYS[2], ${RECEIPT_EPOCH_TTL_MS}) end
return 0`

// Lock first (a locked factor says so, with its time), then the receipt's life, then one attempt
// taken: checked and counted in one step, so a burst on many instances gets at most max attempts.
// KEYS: receipt, epoch, lock. ARGV: max attempts. Which factor it was for is the caller's to
// compare (the binding comes back with a claim). Returns nil with the attempt taken, else the
// script's answer: {0} dead, {-1, pttl} locked.
const TAKE_ATTEMPT = `
local function takeAttempt (record)
  if not record[1] then return {0} end
  local locked = redis.call('PTTL', KEYS[3])
  if locked > 0 then return {-1, locked} end
  if record[3] ~= (redis.call('GET', KEYS[2]) or '0') then
    redis.call('DEL', KEYS[1])
    return {0}
  end
  -- Out of attempts, but kept: an attempt still in flight may be the right code and must find it to spend it.
  if tonumber(record[2]) >= tonumber(ARGV[1]) then return {0} end
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  return nil
end`

// KEYS, ARGV: TAKE_ATTEMPT's. Returns {1, binding}, {0} dead, {-1, pttl} locked.
const CLAIM_RECEIPT = `${TAKE_ATTEMPT}
local record = redis.call('HMGET', KEYS[1], 'binding', 'attempts', 'epoch')
local refused = takeAttempt(record)
if refused then return refused end
return {1, record[1]}`

// The second step with a TOTP code in one round trip: the attempt, then the code against the
// receipt's hashes, then its step, and the receipt spent with an accepted step. A receipt without
// codes is left untouched ({4}): the caller takes the way that reads the database.
// KEYS: TAKE_ATTEMPT's, then last step, failures, lockouts. ARGV: max attempts, ttl ms, then each
// candidate step with the typed code's hash for it.
// Returns {1, step, context} accepted, {3} replayed, {2} rejected, {0} dead, {-1, pttl} locked, {4} no codes.
const REDEEM_RECEIPT_CODE = `${TAKE_ATTEMPT}${TAKE_STEP}
local record = redis.call('HMGET', KEYS[1], 'binding', 'attempts', 'epoch', 'floor', 'context')
if record[1] and not record[4] then return {4} end
local refused = takeAttempt(record)
if refused then return refused end
local step = nil
for i = 3, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], 'c' .. ARGV[i]) == ARGV[i + 1] then
    step = ARGV[i]
    break
  end
end
if not step then return {2} end
if not takeStep(KEYS[4], KEYS[5], KEYS[6], step, ARGV[2], record[4]) then return {3} end
redis.call('DEL', KEYS[1])
return {1, tonumber(step), record[5]}`

// KEYS: epoch.
const BUMP_EPOCH = `
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ${RECEIPT_EPOCH_TTL_MS})
return 1`

// KEYS: failures, lock, lockouts, SMS code, receipt epoch. The used step stays until it expires:
// a login in flight with the same code must still find it spent.
const FORGET = `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('INCR', KEYS[5])
redis.call('PEXPIRE', KEYS[5], ${RECEIPT_EPOCH_TTL_MS})
return 1`

interface ScriptCommands {
  twofoldAcceptStep: (lock: string, lastStep: string, failures: string, lockouts: string, step: number, ttlMs: number, floor: number) => Promise<number[]>
  twofoldRegisterFailure: (failures: string, lock: string, lockouts: string, receiptEpoch: string, max: number, lockMs: number, windowMs: number, maxLockMs: number, memoryMs: number) => Promise<[number, number]>
  twofoldConsumeCode: (lock: string, code: string, failures: string, lockouts: string, hash: string, now: number) => Promise<number[]>
  twofoldTakeSendSlot: (key: string, now: number, intervalMs: number, max: number, windowMs: number) => Promise<[number, number]>
  twofoldReleaseSendInterval: (key: string, takenAt: number) => Promise<number>
  twofoldTakeQuota: (key: string, max: number, windowMs: number) => Promise<[number, number]>
  twofoldPutReceipt: (receipt: string, epoch: string, lock: string, binding: string, ttlMs: number, checkLock: string, ...codes: Array<string | number>) => Promise<number>
  twofoldClaimReceipt: (receipt: string, epoch: string, lock: string, maxAttempts: number) => Promise<[number, string | number | undefined]>
  twofoldRedeemReceiptCode: (receipt: string, epoch: string, lock: string, lastStep: string, failures: string, lockouts: string, maxAttempts: number, ttlMs: number, ...candidates: Array<string | number>) => Promise<[number, number | undefined, string | undefined]>
  twofoldBumpEpoch: (epoch: string) => Promise<number>
  twofoldForget: (failures: string, lock: string, lockouts: string, smsCode: string, epoch: string) => Promise<number>
  twofoldReadState: (lastStep: string, failures: string, lock: string, smsSend: string, lockouts: string) => Promise<number[]>
}

const positive = (ms: number | undefined) => ms !== undefined && ms > 0 ? ms : 0

export function createRedisStore (client: Redis | Cluster, keyPrefix: string): EphemeralStore {
  client.defineCommand('twofoldAcceptStep', { numberOfKeys: 4, lua: ACCEPT_STEP })
  client.defineCommand('twofoldRegisterFailure', { numberOfKeys: 4, lua: REGISTER_FAILURE })
  client.defineCommand('twofoldConsumeCode', { numberOfKeys: 4, lua: CONSUME_CODE })
  client.defineCommand('twofoldTakeSendSlot', { numberOfKeys: 1, lua: TAKE_SEND_SLOT })
  client.defineCommand('twofoldReleaseSendInterval', { numberOfKeys: 1, lua: RELEASE_SEND_INTERVAL })
  client.defineCommand('twofoldTakeQuota', { numberOfKeys: 1, lua: TAKE_QUOTA })
  client.defineCommand('twofoldPutReceipt', { numberOfKeys: 3, lua: PUT_RECEIPT })
  client.defineCommand('twofoldClaimReceipt', { numberOfKeys: 3, lua: CLAIM_RECEIPT })
  client.defineCommand('twofoldRedeemReceiptCode', { numberOfKeys: 6, lua: REDEEM_RECEIPT_CODE })
  client.defineCommand('twofoldBumpEpoch', { numberOfKeys: 1, lua: BUMP_EPOCH })
  client.defineCommand('twofoldForget', { numberOfKeys: 5, lua: FORGET })
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
      const [failures, lockedMs] = await call(() => redis.twofoldRegisterFailure(k.failures, k.lock, k.lockouts, k.receiptEpoch, max, lockMs, windowMs, Math.max(lockMs, maxLockMs), lockoutMemoryMs))
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
      await call(() => redis.twofoldForget(k.failures, k.lock, k.lockouts, k.smsCode, k.receiptEpoch))
    },
    async putReceipt (userId, hash, binding, ttlMs, checkLock = false, codes) {
      const k = keysOf(userId)
      const coded = codes === undefined ? [] : [codes.floor, codes.context, ...codes.codes.flat()]
      return Number(await call(() => redis.twofoldPutReceipt(k.receipt(hash), k.receiptEpoch, k.lock, binding, ttlMs, checkLock ? '1' : '0', ...coded)))
    },
    async claimReceiptAttempt (userId, hash, maxAttempts) {
      const k = keysOf(userId)
      const [status, detail] = await call(() => redis.twofoldClaimReceipt(k.receipt(hash), k.receiptEpoch, k.lock, maxAttempts))
      if (status === 1) return { status: 'claimed', binding: String(detail) }
      if (status === -1) return { status: 'locked', lockedMs: Number(detail) }
      return { status: 'dead' }
    },
    async redeemReceiptCode (userId, hash, { maxAttempts, candidates, ttlMs }) {
      const k = keysOf(userId)
      const [status, detail, context] = await call(() => redis.twofoldRedeemReceiptCode(k.receipt(hash), k.receiptEpoch, k.lock, k.lastStep, k.failures, k.lockouts, maxAttempts, ttlMs, ...candidates.flat()))
      if (status === 1) return { status: 'accepted', step: Number(detail), context: String(context) }
      if (status === 3) return { status: 'replayed' }
      if (status === 2) return { status: 'rejected' }
      if (status === 4) return { status: 'uncoded' }
      if (status === -1) return { status: 'locked', lockedMs: detail ?? 0 }
      return { status: 'dead' }
    },
    async spendReceipt (userId, hash) {
      const deleted = await call(() => redis.del(keysOf(userId).receipt(hash)))
      return deleted === 1
    },
    async endReceipts (userId) {
      await call(() => redis.twofoldBumpEpoch(keysOf(userId).receiptEpoch))
    },
    async ping () {
      await call(() => redis.ping())
    },
    async close () {}
  }
}
