/**
 * How long a run of lockouts is remembered after the last one, when no success ends it: long
 * enough that an attacker can't wait the escalation out, short enough that an account nobody
 * attacks stops carrying state.
 */
export const LOCKOUT_MEMORY_MS = 30 * 86_400_000

/** The lock after the `lockouts`-th lockout in a row: `lockMs`, doubled each time, at most `maxLockMs`. */
export const escalatedLockMs = (lockMs: number, maxLockMs: number, lockouts: number) =>
  Math.floor(Math.min(lockMs * 2 ** Math.min(lockouts - 1, 40), Math.max(lockMs, maxLockMs)))
