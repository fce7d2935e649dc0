import type { SmsQuotaScope } from './keys.js'

export type AcceptResult =
  | { status: 'accepted' }
  | { status: 'replayed' }
  | { status: 'locked', lockedMs: number }

export type ConsumeResult =
  | { status: 'accepted' }
  | { status: 'replayed' }
  | { status: 'rejected' }
  | { status: 'locked', lockedMs: number }

/**
 * What a login receipt keeps so that its second step with a TOTP code reads nothing from the
 * database (putReceipt): the keyed hash of the code of every step it can be redeemed in, the
 * database's last step when it was issued (the floor, as acceptStep's), and the caller's context.
 */
export interface ReceiptCodes {
  codes: ReadonlyArray<readonly [step: number, hash: string]>
  floor: number
  context: string
}

/**
 * A receipt's attempt and a TOTP code in one (redeemReceiptCode): 'rejected' is a code that
 * matched none of the receipt's (it is counted by the caller); 'uncoded' a receipt that keeps no
 * codes (an SMS factor's, or one issued before receipts kept them), for which nothing was taken.
 */
export type ReceiptCodeResult =
  | { status: 'accepted', step: number, context: string }
  | { status: 'replayed' }
  | { status: 'rejected' }
  | { status: 'dead' }
  | { status: 'locked', lockedMs: number }
  | { status: 'uncoded' }

/** A login receipt's answer to one code attempt (claimReceiptAttempt), with the factor it was issued for. */
export type ReceiptClaim =
  | { status: 'claimed', binding: string }
  | { status: 'dead' }
  | { status: 'locked', lockedMs: number }

export interface SendThrottle {
  /** Minimum time between two messages. */
  intervalMs: number
  /** At most `max` messages per `windowMs`. */
  max: number
  windowMs: number
}

export interface FailurePolicy {
  max: number
  lockMs: number
  windowMs: number
  maxLockMs?: number
  lockoutMemoryMs?: number
}

/** What the store holds about one user's second factor (the support desk's view, and the contract tests'). */
export interface FactorState {
  /** The last accepted TOTP time step (0: none) and how long it is kept. */
  lastStep: number
  lastStepMs: number
  /** Consecutive code failures after a right password, and how long their window still runs. */
  failures: number
  failuresMs: number
  /** Remaining lock, 0 when not locked. */
  lockedMs: number
  /** Lockouts since the last success (each lengthens the next lock). */
  lockouts: number
  /** Remaining life of the SMS send throttle, 0 when none. */
  sendThrottleMs: number
}

/**
 * Short-lived security state that every instance must agree on, per user: used TOTP steps,
 * failure counters, locks, the SMS code awaiting use and the SMS send throttle. Callers name a
 * user, never a key: the layout is the store's own (store/keys.ts). Each method is one atomic
 * step in every implementation (Redis: one Lua script or command; memory: synchronous code on
 * one event loop), and the login path makes a single call per request.
 */
export interface EphemeralStore {
  readonly kind: 'redis' | 'memory'
  /**
   * Accepts time step `step` unless the factor is locked or a step >= `step` was accepted
   * before (no code works twice, and an older code can't follow a newer one); `floor`, the last
   * step the database knows of, counts as accepted before, so a store that lost its data refuses
   * it too. On acceptance the failure count and the lockouts are cleared and the step kept for `ttlMs`.
   */
  acceptStep: (userId: string, step: number, ttlMs: number, floor?: number) => Promise<AcceptResult>
  /**
   * Counts one failure unless already locked. When the count reaches `max`, clears it and locks:
   * for `lockMs` the first time, then twice as long at each lockout in a row (no success
   * between them, remembered for `lockoutMemoryMs`), at most `maxLockMs` (default `lockMs`: no
   * escalation). Returns the count and the lock's remaining time (0 when not locked). A lock
   * also ends the user's login receipts.
   */
  registerFailure: (userId: string, opts: FailurePolicy) => Promise<{ failures: number, lockedMs: number }>
  /**
   * Stores the user's one-time SMS code record (its keyed hash and `expiresAt`), replacing any
   * earlier one; the record itself lives `ttlMs` (cleanup only: expiry is checked against `expiresAt`).
   */
  putSmsCode: (userId: string, hash: string, expiresAt: number, ttlMs: number) => Promise<void>
  /**
   * Uses the SMS code record once: accepted (failures and lockouts cleared) when `hash` matches
   * and `now` is before its expiry, unless the factor is locked. The record is then marked used,
   * so the same code again is 'replayed' (a double submit, not a guess). A wrong hash leaves it.
   */
  consumeSmsCode: (userId: string, hash: string, now: number) => Promise<ConsumeResult>
  /**
   * Takes one SMS send slot at `now` unless the last send was under `intervalMs` ago or `max`
   * sends happened in the current window; else returns how long to wait. The throttle outlives
   * a disabled factor, so re-enrolling can't pump messages.
   */
  takeSendSlot: (userId: string, now: number, throttle: SendThrottle) => Promise<{ allowed: boolean, retryAfterMs: number }>
  /**
   * Takes one send from the quota `scope`/`id` (see smsQuotaKey) unless `max` were taken in its
   * current window; else returns how long until the window ends. A single-key atomic step.
   */
  takeSmsQuota: (scope: SmsQuotaScope, id: string, quota: { max: number, windowMs: number }) => Promise<{ allowed: boolean, retryAfterMs: number }>
  /** Gives back the interval of the slot taken at `takenAt` (the send failed): the hourly count stays. */
  releaseSendInterval: (userId: string, takenAt: number) => Promise<void>
  /** Remaining lock in ms, 0 when not locked. */
  lockedMs: (userId: string) => Promise<number>
  /** Everything held about the user, in one read. */
  state: (userId: string) => Promise<FactorState>
  /** Clears the failure count and the lockouts (a recovery code succeeded). */
  resetFailures: (userId: string) => Promise<void>
  /** Clears the failure count, the lock and the lockouts (an administrator's unblock). */
  unlock: (userId: string) => Promise<void>
  /**
   * Clears count, lock, lockouts and SMS code, and ends the receipts (the factor was switched off
   * or reset). The used step stays until it expires: a login in flight with the same code must
   * still find it spent. The send throttle stays too.
   */
  forget: (userId: string) => Promise<void>
  /**
   * Keeps a login receipt (its keyed hash) for `ttlMs`, owned by `userId` and bound to
   * `binding` (the factor it was issued for), with `codes` when its factor is TOTP. It dies with
   * the user's receipts (endReceipts, a lock, forget) even before its time is up. With
   * `checkLock`, while the factor is locked nothing is kept and the answer is the lock's
   * remaining ms (0: kept).
   */
  putReceipt: (userId: string, hash: string, binding: string, ttlMs: number, checkLock?: boolean, codes?: ReceiptCodes) => Promise<number>
  /**
   * Takes one of the receipt's `maxAttempts` code attempts: 'locked' while the factor is locked,
   * 'dead' when it is unknown, expired, spent, out of attempts, or outlived by endReceipts/a lock.
   */
  claimReceiptAttempt: (userId: string, hash: string, maxAttempts: number) => Promise<ReceiptClaim>
  /**
   * The second step with a TOTP code, in one atomic step (one round trip, no database): the
   * attempt as claimReceiptAttempt, then the first of `candidates` (a step and the keyed hash of
   * the typed code for it) that matches the receipt's own hash for that step, then that step as
   * acceptStep (the receipt's floor counting as used), and an accepted step spends the receipt.
   */
  redeemReceiptCode: (userId: string, hash: string, opts: { maxAttempts: number, candidates: ReadonlyArray<readonly [step: number, hash: string]>, ttlMs: number }) => Promise<ReceiptCodeResult>
  /** Uses the receipt up (a code succeeded); false when it already was: exactly one caller wins. */
  spendReceipt: (userId: string, hash: string) => Promise<boolean>
  /** Kills every receipt of the user issued so far (password changed). */
  endReceipts: (userId: string) => Promise<void>
  ping: () => Promise<void>
  close: () => Promise<void>
}
