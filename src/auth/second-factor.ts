import type { Config } from '../config/config.js'
import type { AuditLog, RequestContext } from './audit.js'
import { AppError, type ErrorName } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { EphemeralStore } from '../store/ephemeral-store.js'
import { factorKeys } from '../store/keys.js'
import { consumeRecoveryCode } from './recovery-codes.js'
import type { ActiveFactor } from './factors.js'
import type { SecretBox } from './secret-box.js'
import type { SendOutcome, SmsCodes, SmsPurpose } from './sms-codes.js'
import { TOTP_PERIOD_SECONDS, matchTotpStep } from './totp.js'

export type CodeOutcome = { ok: true } | { ok: false, lockedMs: number }
export type CodeMethod = 'otp' | 'sms' | 'recovery'

export interface SecondFactorDeps {
  prisma: PrismaClient
  store: EphemeralStore
  secretBox: SecretBox
  config: Config
  now: () => number
  audit: AuditLog
  sms: SmsCodes
}

/**
 * Checks second-factor codes for users whose TFA is on: replay protection, failure counting and
 * lockout, the same at login, disable and every other place that asks for a code.
 */
export function createSecondFactorService ({ prisma, store, secretBox, config, now, audit, sms }: SecondFactorDeps) {
  const { window, maxFailures, lockSeconds } = config.tfa
  const keysOf = (userId: string) => factorKeys(config.redisKeyPrefix, userId)
  // A step stays acceptable for `window` steps after its own; keep it at least that long, or an
  // expired record would let the same code in again.
  const usedStepTtlMs = (2 * window + 2) * TOTP_PERIOD_SECONDS * 1000
  const failureWindowMs = lockSeconds * 1000

  async function registerFailure (userId: string, ctx: RequestContext): Promise<CodeOutcome> {
    const { failures, lockedMs } = await store.registerFailure(keysOf(userId), { max: maxFailures, lockMs: lockSeconds * 1000, windowMs: failureWindowMs })
    // Exactly one request sees the count reach the maximum (the script is atomic).
    if (lockedMs > 0 && failures >= maxFailures) audit.record('tfa.locked', userId, ctx, { failures, lock_seconds: lockSeconds })
    return { ok: false, lockedMs }
  }

  const service = {
    keysOf,

    async lockedMs (userId: string): Promise<number> {
      return await store.remainingMs(keysOf(userId).lock)
    },

    /** Accepts `code` for `secret` at most once per user, across every instance. */
    async verifyTotp (userId: string, secret: string, code: string, ctx: RequestContext = {}): Promise<CodeOutcome> {
      const step = matchTotpStep(secret, code, now(), window)
      if (step !== null) {
        const result = await store.acceptStep(keysOf(userId), step, usedStepTtlMs)
        if (result.status === 'accepted') return { ok: true }
        if (result.status === 'locked') return { ok: false, lockedMs: result.lockedMs }
      }
      // A replayed code is a failure like a wrong one: both are someone guessing or reusing.
      return await registerFailure(userId, ctx)
    },

    /** Records a code's step as used without counting anything (the code that activates TFA). */
    async markStepUsed (userId: string, secret: string, code: string): Promise<boolean> {
      const step = matchTotpStep(secret, code, now(), window)
      if (step === null) return false
      return (await store.acceptStep(keysOf(userId), step, usedStepTtlMs)).status === 'accepted'
    },

    /** Uses the SMS code sent to `phone` for `purpose`: once, within its 5 minutes; wrong ones count. */
    async verifySms (userId: string, phone: string, purpose: SmsPurpose, code: string, ctx: RequestContext = {}): Promise<CodeOutcome> {
      if (/^[0-9]{6}$/.test(code)) {
        const result = await store.consumeCode(keysOf(userId), sms.hashOf(userId, purpose, phone, code), now())
        if (result.status === 'accepted') return { ok: true }
        if (result.status === 'locked') return { ok: false, lockedMs: result.lockedMs }
      }
      return await registerFailure(userId, ctx)
    },

    /** Sends a code to `phone` (throttled), unless the factor is locked: a lock sends nothing. */
    async sendSms (userId: string, phone: string, purpose: SmsPurpose, ctx: RequestContext = {}): Promise<SendOutcome | { sent: false, lockedMs: number }> {
      const lockedMs = await service.lockedMs(userId)
      if (lockedMs > 0) return { sent: false, lockedMs }
      return await sms.send(userId, keysOf(userId), phone, purpose, ctx)
    },

    /**
     * The right password arrived without a code: for SMS this is when the code goes out
     * (throttled: a repeated attempt inside the minute sends nothing new). Returns the lock, if any.
     */
    async challenge (userId: string, factor: ActiveFactor, ctx: RequestContext = {}): Promise<number> {
      if (factor.method !== 'sms') return await service.lockedMs(userId)
      const outcome = await service.sendSms(userId, secretBox.open(factor.phone, userId), 'auth', ctx)
      return 'lockedMs' in outcome ? outcome.lockedMs : 0
    },

    async verifyRecoveryCode (userId: string, code: string, ctx: RequestContext = {}): Promise<CodeOutcome> {
      const lockedMs = await store.remainingMs(keysOf(userId).lock)
      if (lockedMs > 0) return { ok: false, lockedMs }
      if (await consumeRecoveryCode(prisma, userId, code)) {
        await store.delete(keysOf(userId).failures)
        return { ok: true }
      }
      return await registerFailure(userId, ctx)
    },

    /** Verifies the recovery code when one is given, else the code of the active factor (callers pass one of them). */
    async verifyAnyCode (userId: string, factor: ActiveFactor, codes: { code?: string, recoveryCode?: string }, ctx: RequestContext = {}): Promise<CodeOutcome & { method: CodeMethod }> {
      if (codes.recoveryCode !== undefined) return { ...await service.verifyRecoveryCode(userId, codes.recoveryCode, ctx), method: 'recovery' }
      if (factor.method === 'sms') {
        return { ...await service.verifySms(userId, secretBox.open(factor.phone, userId), 'auth', codes.code ?? '', ctx), method: 'sms' }
      }
      return { ...await service.verifyTotp(userId, secretBox.open(factor.sealed, userId), codes.code ?? '', ctx), method: 'otp' }
    },

    async failureCount (userId: string): Promise<number> {
      return await store.getCount(keysOf(userId).failures)
    },

    /** Clears the failure count and the lock (an administrator's unblock). */
    async unlock (userId: string): Promise<void> {
      const keys = keysOf(userId)
      await store.delete(keys.failures, keys.lock)
    },

    /**
     * Clears counters, lock, used-step record and any SMS code (TFA switched off or reset). The
     * send throttle stays: switching SMS off and on must not reset it.
     */
    async forget (userId: string): Promise<void> {
      const keys = keysOf(userId)
      await store.delete(keys.failures, keys.lock, keys.lastStep, keys.smsCode)
    }
  }
  return service
}

export type SecondFactorService = ReturnType<typeof createSecondFactorService>

/** Throws the error a failed code deserves: 429 while locked, else `otherwise`. */
export function throwCodeFailure (outcome: { lockedMs: number }, otherwise: ErrorName): never {
  if (outcome.lockedMs > 0) throw new AppError('tfaLocked', undefined, Math.ceil(outcome.lockedMs / 1000))
  throw new AppError(otherwise)
}

export const normalizeTotpInput = (code: string) => code.replace(/\s/g, '')
