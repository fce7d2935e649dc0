import type { Config } from '../config/config.js'
import type { AuditLog, RequestContext } from './audit.js'
import { AppError, type ErrorName } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { EphemeralStore } from '../store/ephemeral-store.js'
import { consumeRecoveryCode } from './recovery-codes.js'
import type { ActiveFactor } from './factors.js'
import type { SecretBox } from './secret-box.js'
import type { SmsCodes, SmsCodeTarget } from './sms-codes.js'
import { TOTP_PERIOD_SECONDS, matchTotpStep } from './totp.js'
import { recordTotpStepSql } from './totp-step.js'

/** `replayed`: a code that was right once and is spent (a double submit): refused, not counted. */
export type CodeOutcome = { ok: true, totpStep?: number } | { ok: false, lockedMs: number, replayed?: true }

/**
 * With `stepToSession` an accepted TOTP code's step is not written to the database here but
 * returned (`totpStep`), for the statement that writes the login's session to record
 * (session-store.ts): one round trip where there were two. The login is only good if that
 * statement writes the session.
 */
export interface TotpOptions { stepToSession?: boolean }
export type CodeMethod = 'otp' | 'sms' | 'recovery'

/**
 * How long a used step is kept: a step stays acceptable for `window` steps after its own, so an
 * expired record would let the same code in again.
 */
export const usedStepTtlMs = (window: number) => (2 * window + 2) * TOTP_PERIOD_SECONDS * 1000

/**
 * The second factor's state as PostgreSQL keeps it, read with the user at login: the last TOTP
 * step accepted and the end of a lock. Redis stays the atomic gate; these are its floor, so a
 * Redis that restarted empty can neither let a used code in again nor forget a lock.
 */
export interface DurableCodeState { floorStep: number, lockedUntil: Date | null }

export interface SecondFactorDeps {
  prisma: PrismaClient
  store: EphemeralStore
  secretBox: SecretBox
  config: Pick<Config, 'tfa'>
  now: () => number
  audit: AuditLog
  sms: SmsCodes
}

/**
 * Checks second-factor codes for users whose TFA is on: it picks the check the active factor
 * needs (TOTP step, SMS code, recovery code) and counts failures toward the lock, the same at
 * login, disable and every other place that asks for a code. The state behind it is the store's.
 */
export function createSecondFactorService ({ prisma, store, secretBox, config, now, audit, sms }: SecondFactorDeps) {
  const { window, maxFailures, lockSeconds, maxLockSeconds } = config.tfa
  const stepTtlMs = usedStepTtlMs(window)
  const failureWindowMs = lockSeconds * 1000

  async function registerFailure (userId: string, ctx: RequestContext): Promise<CodeOutcome> {
    const { failures, lockedMs } = await store.registerFailure(userId, { max: maxFailures, lockMs: lockSeconds * 1000, windowMs: failureWindowMs, maxLockMs: maxLockSeconds * 1000 })
    // Exactly one request sees the count reach the maximum (the script is atomic).
    if (lockedMs > 0 && failures >= maxFailures) {
      audit.record('tfa.locked', userId, ctx, { failures, lock_seconds: Math.ceil(lockedMs / 1000) })
      // Rare (once per lockout), so the lock's copy in the database costs logins nothing.
      await prisma.user.updateMany({ where: { id: userId }, data: { tfaLockedUntil: new Date(now() + lockedMs) } })
    }
    return { ok: false, lockedMs }
  }

  const durableLockMs = (durable?: DurableCodeState) => Math.max(0, (durable?.lockedUntil?.getTime() ?? 0) - now())

  /** The database's compare-and-set behind the store's (totp-step.ts). */
  async function recordStep (userId: string, step: number): Promise<boolean> {
    return await prisma.$executeRaw`${recordTotpStepSql(userId, step)}` === 1
  }

  /** A wrong code is a failure, a locked factor reports its lock: the store's answers, as outcomes. */
  async function settle (userId: string, result: { status: string, lockedMs?: number }, ctx: RequestContext): Promise<CodeOutcome> {
    if (result.status === 'accepted') return { ok: true }
    if (result.status === 'locked') return { ok: false, lockedMs: result.lockedMs ?? 0 }
    // A spent code is refused but not counted: it was right once, so it is a double-click or a
    // client's retry, and counting it would let a user lock themselves out. It tells a guesser
    // nothing (only codes from steps already used get here).
    if (result.status === 'replayed') return { ok: false, lockedMs: 0, replayed: true }
    return await registerFailure(userId, ctx)
  }

  const service = {
    /**
     * Accepts `code` for `secret` at most once per user, across every instance and
     * across a store that lost its data (`durable`, when the caller read it; the database's
     * compare-and-set holds either way).
     */
    async verifyTotp (userId: string, secret: string, code: string, ctx: RequestContext = {}, durable?: DurableCodeState, { stepToSession = false }: TotpOptions = {}): Promise<CodeOutcome> {
      const step = matchTotpStep(secret, code, now(), window)
      const result = step === null ? { status: 'rejected' } : await store.acceptStep(userId, step, stepTtlMs, durable?.floorStep)
      if (step !== null && result.status === 'accepted') {
        if (stepToSession) return { ok: true, totpStep: step }
        if (!await recordStep(userId, step)) return { ok: false, lockedMs: 0, replayed: true }
      }
      return await settle(userId, result, ctx)
    },

    /**
     * Records a code's step as used without counting anything (the code that activates TFA).
     * A step already spent (by the factor switched off just before) is fine here: it stays
     * spent, so this code can't log in either.
     */
    async markStepUsed (userId: string, secret: string, code: string): Promise<boolean> {
      const step = matchTotpStep(secret, code, now(), window)
      if (step === null) return false
      if ((await store.acceptStep(userId, step, stepTtlMs)).status === 'locked') return false
      await prisma.$executeRaw`UPDATE users SET totp_last_step = GREATEST(totp_last_step, ${step}) WHERE id = ${userId}::uuid`
      return true
    },

    /** A code checked elsewhere (a login receipt's hashes) matched none: counted toward the lock like any wrong code. */
    async codeRejected (userId: string, ctx: RequestContext = {}): Promise<CodeOutcome> {
      return await registerFailure(userId, ctx)
    },

    /** Uses the SMS code sent to the target: once, within its 5 minutes; wrong ones count. */
    async verifySms (target: SmsCodeTarget, code: string, ctx: RequestContext = {}): Promise<CodeOutcome> {
      return await settle(target.userId, await sms.verify(target, code), ctx)
    },

    /**
     * The right password arrived without a code: for SMS this is when the code goes out
     * (throttled: a repeated attempt inside the minute sends nothing new). Returns the lock, if any.
     * `storeLock: false` leaves a TOTP factor's lock in the store to the caller's next store step
     * (the login receipt's, which checks it in the same script).
     */
    async challenge (userId: string, factor: ActiveFactor, ctx: RequestContext = {}, durable?: DurableCodeState, { storeLock = true }: { storeLock?: boolean } = {}): Promise<number> {
      const durableLock = durableLockMs(durable)
      if (durableLock > 0) return durableLock
      if (factor.method !== 'sms') return storeLock ? await store.lockedMs(userId) : 0
      const outcome = await sms.send({ userId, phone: secretBox.open(factor.phone, userId), purpose: 'auth' }, ctx)
      return outcome.status === 'locked' ? outcome.lockedMs : 0
    },

    async verifyRecoveryCode (userId: string, code: string, ctx: RequestContext = {}): Promise<CodeOutcome> {
      const lockedMs = await store.lockedMs(userId)
      if (lockedMs > 0) return { ok: false, lockedMs }
      const consumed = await consumeRecoveryCode(prisma, userId, code, now)
      if (consumed === 'accepted') {
        await store.resetFailures(userId)
        return { ok: true }
      }
      // The losers of a race for one code, like a double submit, are not guessing.
      if (consumed === 'used') return { ok: false, lockedMs: 0, replayed: true }
      return await registerFailure(userId, ctx)
    },

    /**
     * Verifies the recovery code when one is given, else the code of the active factor (callers
     * pass one of them); `totp` as for TotpOptions.
     */
    async verifyAnyCode (userId: string, factor: ActiveFactor, codes: { code?: string, recoveryCode?: string }, ctx: RequestContext = {}, durable?: DurableCodeState, totp: TotpOptions = {}): Promise<CodeOutcome & { method: CodeMethod }> {
      const method: CodeMethod = codes.recoveryCode !== undefined ? 'recovery' : factor.method === 'sms' ? 'sms' : 'otp'
      const durableLock = durableLockMs(durable)
      if (durableLock > 0) return { ok: false, lockedMs: durableLock, method }
      if (codes.recoveryCode !== undefined) return { ...await service.verifyRecoveryCode(userId, codes.recoveryCode, ctx), method }
      if (factor.method === 'sms') {
        const target = { userId, phone: secretBox.open(factor.phone, userId), purpose: 'auth' as const }
        return { ...await service.verifySms(target, codes.code ?? '', ctx), method }
      }
      return { ...await service.verifyTotp(userId, secretBox.open(factor.sealed, userId), codes.code ?? '', ctx, durable, totp), method }
    },

    /** Wrong codes in a row so far. */
    async failures (userId: string): Promise<number> {
      return (await store.state(userId)).failures
    },

    /** The lock's remaining time, 0 when not locked. */
    async lockedMs (userId: string): Promise<number> {
      return await store.lockedMs(userId)
    },

    /** The lock, the count and the lockouts in a row, in one read (the support desk's view). */
    async lockState (userId: string): Promise<{ lockedMs: number, failures: number, lockouts: number }> {
      const { lockedMs, failures, lockouts } = await store.state(userId)
      return { lockedMs, failures, lockouts }
    },

    /** Clears the failure count and the lock (an administrator's unblock). */
    async unlock (userId: string): Promise<void> {
      await store.unlock(userId)
      await prisma.user.updateMany({ where: { id: userId }, data: { tfaLockedUntil: null } })
    },

    /**
     * Clears counters, lock and any SMS code (TFA switched off or reset). The used step stays,
     * in the store until it expires and in the database for good: a code raced at login and
     * at disable must not work at both.
     */
    async forget (userId: string): Promise<void> {
      await store.forget(userId)
      await prisma.user.updateMany({ where: { id: userId }, data: { tfaLockedUntil: null } })
    }
  }
  return service
}

export type SecondFactorService = ReturnType<typeof createSecondFactorService>

/** Throws the error a failed code deserves: 429 while locked, else `otherwise`. */
export function throwCodeFailure (outcome: { lockedMs: number }, otherwise: ErrorName): never {
  if (outcome.lockedMs > 0) throw new AppError('tfaLocked', { retryAfterSeconds: Math.ceil(outcome.lockedMs / 1000) })
  throw new AppError(otherwise)
}

export const normalizeTotpInput = (code: string) => code.replace(/\s/g, '')
