import type { EphemeralStore } from './ephemeral-store.js'

interface Entry { value: number, expiresAt: number }

/**
 * In-process store for the embedded single-instance mode. No method awaits before it has
 * finished its reads and writes, so on one event loop each is as atomic as the Redis script it
 * mirrors.
 */
export function createMemoryStore (now: () => number = Date.now): EphemeralStore {
  const entries = new Map<string, Entry>()
  const sweep = setInterval(() => {
    const t = now()
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key)
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
    const entry = read(key)
    return entry ? entry.expiresAt - now() : 0
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
    async remainingMs (key) {
      return remaining(key)
    },
    async getCount (key) {
      return read(key)?.value ?? 0
    },
    async delete (...keys) {
      for (const key of keys) entries.delete(key)
    },
    async ping () {},
    async close () {
      clearInterval(sweep)
      entries.clear()
    }
  }
}
