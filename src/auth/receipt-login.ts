import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { AuditLog, RequestContext } from './audit.js'
import { activeFactor } from './factors.js'
import type { GrantFor } from './login-grant.js'
import { verifiedByCode } from './login-grant.js'
import { factorBinding, type LoginReceipts } from './login-receipts.js'
import { findLoginUser } from './login-user.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import type { TokenGrant } from './tokens.js'

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
  grantFor: GrantFor
}

/** POST /login/tfa: the code after the receipt, instead of the password again. */
export function createReceiptLogin ({ prisma, receipts, secondFactor, audit, grantFor }: Deps) {
  return {
    /** Whose login a receipt continues: the per-user rate limit counts it before any attempt is taken. */
    async receiptOwner (receipt: string): Promise<string> {
      const owner = await receipts.ownerOf(receipt)
      if (owner === null) throw new AppError('loginReceiptInvalid')
      return owner
    },

    /**
     * The second step (`userId` from receiptOwner): the receipt stands for the right password of
     * a moment ago, so no bcrypt runs. A wrong code answers the same 401 (the receipt goes on,
     * within its attempts, each counting toward the lock); a receipt that can't be used any more
     * has its own 401: start again.
     */
    async loginWithReceipt (userId: string, input: ReceiptLoginInput, ctx: RequestContext = {}): Promise<TokenGrant> {
      const claim = await receipts.claimAttempt(userId, input.receipt)
      if (claim.status === 'locked') throwCodeFailure(claim, 'tfaRequired')
      if (claim.status === 'dead') throw new AppError('loginReceiptInvalid')
      const user = await findLoginUser(prisma, { id: userId })
      const factor = activeFactor(user?.twoFactor)
      // Disabled, reset or enrolled again since the receipt was issued: it was for another factor.
      if (user === null || factor === null || user.twoFactor === null || factorBinding(user.twoFactor) !== claim.binding) throw new AppError('loginReceiptInvalid')
      const fail = (reason: 'code' | 'replayed' | 'locked') => audit.record('login.failed', user.id, ctx, { action: 'login', reason, receipt: true })
      const typedTotp = input.totp === undefined || input.totp.trim() === '' ? undefined : normalizeTotpInput(input.totp)
      const again = () => new AppError('tfaRequired', { headers: { 'x-tfa-method': factor.method, 'x-tfa-receipt': input.receipt } })
      if (typedTotp === undefined && input.recovery_code === undefined) throw again()
      const outcome = await secondFactor.verifyAnyCode(user.id, factor, { code: typedTotp, recoveryCode: typedTotp === undefined ? input.recovery_code : undefined }, ctx, user.durable)
      if (!outcome.ok) {
        fail(outcome.lockedMs > 0 ? 'locked' : outcome.replayed === true ? 'replayed' : 'code')
        if (outcome.lockedMs > 0) throwCodeFailure(outcome, 'tfaRequired')
        throw again()
      }
      // Of several right codes raced over one receipt, one login: the others find it spent.
      if (!await receipts.spend(user.id, input.receipt)) throw new AppError('loginReceiptInvalid')
      if (outcome.method === 'recovery') audit.record('tfa.recovery_code_used', user.id, ctx, { action: 'login' })
      return await grantFor(user, verifiedByCode(outcome.method), input.remember_device === true, ctx)
    }
  }
}
