import type { EphemeralStore } from './ephemeral-store.js'

interface Entry { value: number, expiresAt: number }
interface CodeRecord { hash: string, validUntil: number, expiresAt: number }
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
  const sweep = setInterval(() => {
    const t = now()
    for (const map of [entries, codes, throttles]) {
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

  return {
    kind: 'memory',
    async acceptStep (keys, step, ttlMs) {
      const lockedMs = remaining(keys.lock)
      if (lockedMs > 0) return { status: 'locked', lockedMs }
      const last = read(keys.lastStep)
      if (last && last.value >= step) return { status: 'replayed' }
      entries.set(keys.lastStep, { value: step, expiresAt: now() + ttlMs })
      entries.delete(keys.failures)
      return { status: 'accepted' }
    },
    async registerFailure (keys, { max, lockMs, windowMs }) {
      const lockedMs = remaining(keys.lock)
      if (lockedMs > 0) return { failures: read(keys.failures)?.value ?? 0, lockedMs }
      const entry = read(keys.failures)
      const failures = (entry?.value ?? 0) + 1
      if (failures >= max) {
        entries.delete(keys.failures)
        entries.set(keys.lock, { value: 1, expiresAt: now() + lockMs })
        return { failures, lockedMs: lockMs }
      }
      entries.set(keys.failures, { value: failures, expiresAt: entry?.expiresAt ?? now() + windowMs })
      return { failures, lockedMs: 0 }
    },
    async putCode (key, hash, expiresAt, ttlMs) {
      codes.set(key, { hash, validUntil: expiresAt, expiresAt: now() + ttlMs })
    },
    async consumeCode (keys, hash, at) {
      const lockedMs = remaining(keys.lock)
      if (lockedMs > 0) return { status: 'locked', lockedMs }
      const record = codes.get(keys.smsCode)
      if (record === undefined || record.expiresAt <= now()) return { status: 'rejected' }
      if (at >= record.validUntil) {
        codes.delete(keys.smsCode)
        return { status: 'rejected' }
      }
      if (record.hash !== hash) return { status: 'rejected' }
      codes.delete(keys.smsCode)
      entries.delete(keys.failures)
      return { status: 'accepted' }
    },
    async takeSendSlot (key, at, { intervalMs, max, windowMs }) {
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
    async releaseSendInterval (key, takenAt) {
      const found = throttles.get(key)
      if (found !== undefined) found.nextAt = takenAt
    },
    async remainingMs (key) {
      return remaining(key)
    },
    async getCount (key) {
      return read(key)?.value ?? 0
    },
    async delete (...keys) {
      for (const key of keys) {
        entries.delete(key)
        codes.delete(key)
        throttles.delete(key)
      }
    },
    async ping () {},
    async close () {
      clearInterval(sweep)
      entries.clear()
      codes.clear()
      throttles.clear()
    }
  }
}
