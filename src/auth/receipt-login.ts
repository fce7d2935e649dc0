import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { AuditLog, RequestContext } from './audit.js'
import { activeFactor } from './factors.js'
import { verifiedByCode, type CompleteLogin, type LoginTokens } from './login-grant.js'
import { factorBinding, type LoginReceipts } from './login-receipts.js'
import { findLoginUser } from './login-user.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'

/** The second step of a two-step login: the receipt of the first step's 401, and the code. */
export interface ReceiptLoginInput {
  receipt: string
  totp?: string
  recovery_code?: string
  remember_device?: boolean
}

interface Deps {
  prisma: PrismaClient
  receipts: LoginReceipts
  secondFactor: SecondFactorService
  audit: AuditLog
  completeLogin: CompleteLogin
}

type FailReason = 'code' | 'replayed' | 'locked' | 'rate_limited'

/** POST /login/tfa: the code after the receipt, instead of the password again. */
export function createReceiptLogin ({ prisma, receipts, secondFactor, audit, completeLogin }: Deps) {
  const failed = (userId: string, ctx: RequestContext, reason: FailReason) => { audit.record('login.failed', userId, ctx, { action: 'login', reason, receipt: true }) }
  // The documented 401 again, with the same receipt: it goes on within its attempts.
  const again = (method: string, receipt: string) => new AppError('tfaRequired', { headers: { 'x-tfa-method': method, 'x-tfa-receipt': receipt } })
  const overLimit = (waitSeconds: number) => new AppError('rateLimited', { retryAfterSeconds: waitSeconds })

  /**
   * A TOTP code against the hashes its receipt keeps (login-receipts.ts): one store step takes
   * the attempt, checks the code, takes its step and spends the receipt, and nothing is read
   * from the database. The session's statement records the step only while the factor the codes
   * were made from is on (a disable or re-enrolment that raced this login leaves no session).
   * null: the receipt keeps no codes.
   */
  async function withReceiptCodes (userId: string, input: ReceiptLoginInput, code: string, ctx: RequestContext, admitted: Promise<number>): Promise<LoginTokens | null> {
    const [redeemed, counted] = await Promise.allSettled([receipts.redeemCode(userId, input.receipt, code), admitted])
    if (redeemed.status === 'rejected') throw redeemed.reason
    const result = redeemed.value
    if (counted.status === 'rejected' || counted.value > 0) {
      // Over a limit (or not counted: fail closed): refused whatever the code. The store took it
      // as it takes any code, a wrong one counting toward the lock as always and a right one
      // having spent the receipt and its step, so a client past its limit gets no attempt the
      // receipt did not allow, and a right code it learns of is one already used.
      if (result.status === 'rejected') await secondFactor.codeRejected(userId, ctx)
      if (result.status !== 'uncoded' && result.status !== 'dead') failed(userId, ctx, 'rate_limited')
      if (counted.status === 'rejected') throw counted.reason
      throw overLimit(counted.value)
    }
    if (result.status === 'uncoded') return null
    if (result.status === 'dead') throw new AppError('loginReceiptInvalid')
    if (result.status === 'locked') {
      failed(userId, ctx, 'locked')
      throwCodeFailure(result, 'tfaRequired')
    }
    if (result.status === 'replayed') {
      failed(userId, ctx, 'replayed')
      throw again('totp', input.receipt)
    }
    if (result.status === 'rejected') {
      const outcome = await secondFactor.codeRejected(userId, ctx)
      const lockedMs = outcome.ok ? 0 : outcome.lockedMs
      failed(userId, ctx, lockedMs > 0 ? 'locked' : 'code')
      if (lockedMs > 0) throwCodeFailure({ lockedMs }, 'tfaRequired')
      throw again('totp', input.receipt)
    }
    const { username, enabledAt } = result.context
    const user = { id: userId, username, twoFactor: { enabledAt } }
    const tokens = await completeLogin(user, verifiedByCode('otp', { step: result.step, factorEnabledAt: enabledAt }), input.remember_device === true, ctx)
    // The step went to another login between the store's check and the session (a store that
    // lost its record), or the factor went off or was enrolled again: refused like a spent code.
    if (tokens === null) {
      failed(userId, ctx, 'replayed')
      throw again('totp', input.receipt)
    }
    return tokens
  }

  return {
    /** Whose login a receipt continues: the per-user rate limit counts it before any attempt is taken. */
    receiptOwner (receipt: string): string {
      const owner = receipts.ownerOf(receipt)
      if (owner === null) throw new AppError('loginReceiptInvalid')
      return owner
    },

    /**
     * The second step (`userId` from receiptOwner): the receipt stands for the right password of
     * a moment ago, so no bcrypt runs. A wrong code answers the same 401 (the receipt goes on,
     * within its attempts, each counting toward the lock); a receipt that can't be used any more
     * has its own 401: start again. A TOTP code goes against the receipt's own codes in one store
     * step (the common case); an SMS or recovery code, or a receipt that keeps no codes, reads the
     * user and the factor, claims the attempt first and spends after.
     *
     * `admitted`: the rate limits' count, 0 or the seconds to wait (429), sent just before this
     * is called so that a TOTP code's store step goes to Redis in the same write; the other
     * paths wait for it before they touch anything.
     */
    async loginWithReceipt (userId: string, input: ReceiptLoginInput, ctx: RequestContext = {}, admitted: Promise<number> = Promise.resolve(0)): Promise<LoginTokens> {
      // A count that fails (Redis away) fails the request where it is awaited; this keeps it from
      // also becoming an unhandled rejection should something throw before that.
      admitted.catch(() => {})
      const typedTotp = input.totp === undefined || input.totp.trim() === '' ? undefined : normalizeTotpInput(input.totp)
      if (typedTotp !== undefined) {
        const tokens = await withReceiptCodes(userId, input, typedTotp, ctx, admitted)
        if (tokens !== null) return tokens
      }
      const wait = await admitted
      if (wait > 0) throw overLimit(wait)
      const user = await findLoginUser(prisma, { id: userId })
      const factor = activeFactor(user?.twoFactor)
      if (user === null || factor === null || user.twoFactor === null) throw new AppError('loginReceiptInvalid')
      const recoveryCode = typedTotp === undefined ? input.recovery_code : undefined
      const claim = await receipts.claimAttempt(userId, input.receipt)
      if (claim.status === 'locked') throwCodeFailure(claim, 'tfaRequired')
      // Disabled, reset or enrolled again since the receipt was issued: it was for another factor.
      if (claim.status === 'dead' || claim.binding !== factorBinding(user.twoFactor)) throw new AppError('loginReceiptInvalid')
      if (typedTotp === undefined && recoveryCode === undefined) throw again(factor.method, input.receipt)
      const outcome = await secondFactor.verifyAnyCode(user.id, factor, { code: typedTotp, recoveryCode }, ctx, user.durable)
      if (!outcome.ok) {
        failed(user.id, ctx, outcome.lockedMs > 0 ? 'locked' : outcome.replayed === true ? 'replayed' : 'code')
        if (outcome.lockedMs > 0) throwCodeFailure(outcome, 'tfaRequired')
        throw again(factor.method, input.receipt)
      }
      // Of several right codes raced over one receipt, one login: the others find it spent.
      if (!await receipts.spend(user.id, input.receipt)) throw new AppError('loginReceiptInvalid')
      if (outcome.method === 'recovery') audit.record('tfa.recovery_code_used', user.id, ctx, { action: 'login' })
      const tokens = await completeLogin(user, verifiedByCode(outcome.method), input.remember_device === true, ctx)
      if (tokens === null) {
        failed(user.id, ctx, 'replayed')
        throw again(factor.method, input.receipt)
      }
      return tokens
    }
  }
}
