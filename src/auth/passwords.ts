import bcrypt from 'bcrypt'
import { AppError } from '../errors.js'

/** bcrypt reads at most 72 bytes; anything after would be silently ignored. */
export const MAX_PASSWORD_BYTES = 72
export const MIN_PASSWORD_BYTES = 8

export const passwordBytes = (password: string) => Buffer.byteLength(password, 'utf8')

export interface PasswordHasher {
  hash: (password: string) => Promise<string>
  /** False for a wrong password, and for any candidate bcrypt would truncate. */
  verify: (password: string, hash: string) => Promise<boolean>
  /** Spends the same time as a real verification, for unknown users. */
  verifyAgainstDummy: (password: string) => Promise<false>
  /** True while every slot is taken (shedWhenBusy in plugins/passwords.ts); observers hear it as a refusal. */
  shed: () => boolean
  /**
   * Admits one more request that will hash, at the door (admitToHash in plugins/passwords.ts):
   * null while as many are admitted, or hashing, as there are slots (observers hear it as a
   * refusal); otherwise the release to call once, when the request ends.
   */
  admit: () => (() => void) | null
  /** Hashes in flight (running or waiting for a libuv thread), requests admitted at the door, and the cap. */
  slots: () => { pending: number, admitted: number, max: number }
  /** Hears how long each hash took from taking its slot to its result (waiting included), and each refusal. */
  observe: (observer: { settled?: (seconds: number) => void, refused?: () => void }) => void
}

/**
 * bcrypt's async API runs on libuv's thread pool, so the event loop stays free. The number of
 * hashes waiting is capped: past `maxPending` a request is refused at once (503 + Retry-After)
 * rather than queueing behind work two cores can't finish in time.
 *
 * The routes that hash take their place at the door (`admit`), not when their hash starts: a
 * request let in while a slot was free would otherwise still be doing its rate-limit and user
 * lookups when the next ones arrive and see the same free slot, and all but one of them would
 * be refused at the hash, after their Redis and database round trips and through the error
 * handler. Measured with clients retrying at once: 3.5 such late refusals per login.
 */
export function createPasswordHasher ({ cost, maxPending }: { cost: number, maxPending: number }): PasswordHasher {
  let pending = 0
  let admitted = 0
  // A real hash at the configured cost, so an unknown user costs what a known one does.
  const dummyHash = bcrypt.hashSync('twofold-timing-equaliser', cost)

  const observers: Array<{ settled?: (seconds: number) => void, refused?: () => void }> = []
  // Hashes that came in by no door (a code-protected action's password check) count too.
  const full = () => admitted >= maxPending || pending >= maxPending

  function assertCapacity () {
    if (pending >= maxPending) {
      for (const o of observers) o.refused?.()
      throw new AppError('overloaded', { retryAfterSeconds: 1 })
    }
  }

  async function withSlot<T> (work: () => Promise<T>): Promise<T> {
    assertCapacity()
    pending++
    const started = observers.length > 0 ? process.hrtime.bigint() : 0n
    try {
      return await work()
    } finally {
      pending--
      if (started !== 0n) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        for (const o of observers) o.settled?.(seconds)
      }
    }
  }

  return {
    hash: async (password) => await withSlot(() => bcrypt.hash(password, cost)),
    async verify (password, hash) {
      if (passwordBytes(password) > MAX_PASSWORD_BYTES) {
        await withSlot(() => bcrypt.compare(password, dummyHash))
        return false
      }
      return await withSlot(() => bcrypt.compare(password, hash))
    },
    async verifyAgainstDummy (password) {
      await withSlot(() => bcrypt.compare(password, dummyHash))
      return false
    },
    shed () {
      if (!full()) return false
      for (const o of observers) o.refused?.()
      return true
    },
    admit () {
      if (full()) {
        for (const o of observers) o.refused?.()
        return null
      }
      admitted++
      let released = false
      return () => {
        if (released) return
        released = true
        admitted--
      }
    },
    slots: () => ({ pending, admitted, max: maxPending }),
    observe: (observer) => { observers.push(observer) }
  }
}
