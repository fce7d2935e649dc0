/** The keys of one user's second-factor state (see store/keys.ts). */
export interface FactorKeys {
  /** The last accepted TOTP time step. */
  lastStep: string
  /** Consecutive code failures after a right password. */
  failures: string
  /** Present while the second factor is locked. */
  lock: string
  /** The SMS code awaiting use: its expiry and keyed hash, never the code. */
  smsCode: string
  /** The SMS send throttle; it outlives a disabled factor, so re-enrolling can't pump messages. */
  smsSend: string
}

export type AcceptResult =
  | { status: 'accepted' }
  | { status: 'replayed' }
  | { status: 'locked', lockedMs: number }

export type ConsumeResult =
  | { status: 'accepted' }
  | { status: 'rejected' }
  | { status: 'locked', lockedMs: number }

export interface SendThrottle {
  /** Minimum time between two messages. */
  intervalMs: number
  /** At most `max` messages per `windowMs`. */
  max: number
  windowMs: number
}

/**
 * Short-lived security state that every instance must agree on: used TOTP steps, failure
 * counters and locks. Each method is one atomic step in every implementation (Redis: one Lua
 * script or command; memory: synchronous code on one event loop), and the login path makes a
 * single call per request.
 */
export interface EphemeralStore {
  readonly kind: 'redis' | 'memory'
  /**
   * Accepts time step `step` unless the factor is locked or a step >= `step` was accepted
   * before (no code works twice, and an older code can't follow a newer one). On acceptance the
   * failure count is cleared and the step kept for `ttlMs`.
   */
  acceptStep: (keys: FactorKeys, step: number, ttlMs: number) => Promise<AcceptResult>
  /**
   * Counts one failure unless already locked. When the count reaches `max`, locks for `lockMs`
   * and clears the count. Returns the count and the lock's remaining time (0 when not locked).
   */
  registerFailure: (keys: FactorKeys, opts: { max: number, lockMs: number, windowMs: number }) => Promise<{ failures: number, lockedMs: number }>
  /**
   * Stores a one-time code record (`<expiresAt ms>:<hash>`) replacing any earlier one; the key
   * itself lives `ttlMs` (cleanup only: expiry is checked against `expiresAt`).
   */
  putCode: (key: string, hash: string, expiresAt: number, ttlMs: number) => Promise<void>
  /**
   * Uses the code record once: accepted (record deleted, failures cleared) when `hash` matches
   * and `now` is before its expiry, unless the factor is locked. A wrong hash leaves the record.
   */
  consumeCode: (keys: FactorKeys, hash: string, now: number) => Promise<ConsumeResult>
  /**
   * Takes one send slot at `now` unless the last send was under `intervalMs` ago or `max`
   * sends happened in the current window; else returns how long to wait.
   */
  takeSendSlot: (key: string, now: number, throttle: SendThrottle) => Promise<{ allowed: boolean, retryAfterMs: number }>
  /** Gives back the interval of the slot taken at `takenAt` (the send failed): the hourly count stays. */
  releaseSendInterval: (key: string, takenAt: number) => Promise<void>
  /** Remaining lifetime of a key in ms, 0 when it does not exist. */
  remainingMs: (key: string) => Promise<number>
  /** Reads a counter, 0 when absent. */
  getCount: (key: string) => Promise<number>
  delete: (...keys: string[]) => Promise<void>
  ping: () => Promise<void>
  close: () => Promise<void>
}
