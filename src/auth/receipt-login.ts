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

/** POST /login/tfa: the code after the receipt, instead of the password again. */
export function createReceiptLogin ({ prisma, receipts, secondFactor, audit, completeLogin }: Deps) {
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
     * has its own 401: start again. A TOTP code takes the receipt's attempt, its step and the
     * spend in one store step (the common case, one round trip); SMS and recovery codes claim
     * the attempt first and spend after.
     */
    async loginWithReceipt (userId: string, input: ReceiptLoginInput, ctx: RequestContext = {}): Promise<LoginTokens> {
      const user = await findLoginUser(prisma, { id: userId })
      const factor = activeFactor(user?.twoFactor)
      if (user === null || factor === null || user.twoFactor === null) throw new AppError('loginReceiptInvalid')
      // Disabled, reset or enrolled again since the receipt was issued: it was for another factor.
      const binding = factorBinding(user.twoFactor)
      const typedTotp = input.totp === undefined || input.totp.trim() === '' ? undefined : normalizeTotpInput(input.totp)
      const recoveryCode = typedTotp === undefined ? input.recovery_code : undefined
      const inOneStep = factor.method === 'totp' && typedTotp !== undefined
      if (!inOneStep) {
        const claim = await receipts.claimAttempt(userId, input.receipt)
        if (claim.status === 'locked') throwCodeFailure(claim, 'tfaRequired')
        if (claim.status === 'dead' || claim.binding !== binding) throw new AppError('loginReceiptInvalid')
      }
      const fail = (reason: 'code' | 'replayed' | 'locked') => audit.record('login.failed', user.id, ctx, { action: 'login', reason, receipt: true })
      const again = () => new AppError('tfaRequired', { headers: { 'x-tfa-method': factor.method, 'x-tfa-receipt': input.receipt } })
      if (typedTotp === undefined && recoveryCode === undefined) throw again()
      const outcome = await secondFactor.verifyAnyCode(user.id, factor, { code: typedTotp, recoveryCode }, ctx, user.durable,
        inOneStep ? { acceptTotp: receipts.stepAcceptor(user.id, input.receipt, binding), stepToSession: true } : {})
      if (!outcome.ok) {
        if (outcome.dead === true) throw new AppError('loginReceiptInvalid')
        fail(outcome.lockedMs > 0 ? 'locked' : outcome.replayed === true ? 'replayed' : 'code')
        if (outcome.lockedMs > 0) throwCodeFailure(outcome, 'tfaRequired')
        throw again()
      }
      // Of several right codes raced over one receipt, one login: the others find it spent.
      if (!inOneStep && !await receipts.spend(user.id, input.receipt)) throw new AppError('loginReceiptInvalid')
      if (outcome.method === 'recovery') audit.record('tfa.recovery_code_used', user.id, ctx, { action: 'login' })
      const tokens = await completeLogin(user, verifiedByCode(outcome.method, outcome.totpStep), input.remember_device === true, ctx)
      // The code's step went to another login between the store's check and the session (a store
      // that lost its record): refused like any spent code.
      if (tokens === null) {
        fail('replayed')
        throw again()
      }
      return tokens
    }
  }
}
