import QRCode from 'qrcode'
import type { Config } from '../config/config.js'
import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { countRecoveryCodesLeft, replaceRecoveryCodes } from './recovery-codes.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import type { SecretBox } from './secret-box.js'
import { buildOtpauthUrl, generateTotpSecret } from './totp.js'

export const AUTOMATION_WARNING = 'Two-factor authentication also applies to API logins: once it is on, every login ' +
  'needs a current code. Do not enable it on an account used by scripts or automated processes.'

export const DEFAULT_DEVICE_NAME = 'unnamed'

interface Deps {
  prisma: PrismaClient
  secondFactor: SecondFactorService
  secretBox: SecretBox
  config: Config
}

/** Enable → validate → disable, and the recovery codes that come with an enabled factor. */
export function createTfaEnrolment ({ prisma, secondFactor, secretBox, config }: Deps) {
  async function loadEnabled (userId: string) {
    const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
    if (tfa?.enabledAt == null || tfa.secretEnc === null || tfa.secretKeyId === null) throw new AppError('tfaNotEnabled')
    return { ...tfa, sealed: { ciphertext: tfa.secretEnc, keyId: tfa.secretKeyId } }
  }

  return {
    /** A new pending secret, replacing any earlier pending one; TFA is not on until validated. */
    async enable (user: { id: string, username: string }) {
      const existing = await prisma.twoFactor.findUnique({ where: { userId: user.id }, select: { enabledAt: true } })
      if (existing?.enabledAt != null) throw new AppError('tfaAlreadyEnabled')
      const secret = generateTotpSecret()
      const sealed = secretBox.seal(secret, user.id)
      const pending = { pendingSecretEnc: sealed.ciphertext, pendingKeyId: sealed.keyId, pendingCreatedAt: new Date() }
      await prisma.twoFactor.upsert({ where: { userId: user.id }, create: { userId: user.id, ...pending }, update: pending })
      const otpauthUrl = buildOtpauthUrl(secret, config.tfa.issuer, user.username)
      const qrCode = await QRCode.toDataURL(otpauthUrl, { errorCorrectionLevel: 'M', margin: 2, width: 256 })
      return { secret, otpauth_url: otpauthUrl, qr_code: qrCode, warning: AUTOMATION_WARNING }
    },

    async validate (userId: string, code: string, deviceName = DEFAULT_DEVICE_NAME) {
      const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
      if (tfa?.enabledAt != null) throw new AppError('tfaAlreadyEnabled')
      if (tfa?.pendingSecretEnc == null || tfa.pendingKeyId === null) throw new AppError('tfaNotPending')
      const secret = secretBox.open({ ciphertext: tfa.pendingSecretEnc, keyId: tfa.pendingKeyId }, userId)
      // The activating code is recorded as used, so it can't be replayed at login.
      if (!await secondFactor.markStepUsed(userId, secret, normalizeTotpInput(code))) throw new AppError('invalidToken')
      return await prisma.$transaction(async (tx) => {
        // Compare-and-swap on the pending secret: a concurrent /tfa/enable that replaced it wins.
        const { count } = await tx.twoFactor.updateMany({
          where: { userId, pendingSecretEnc: tfa.pendingSecretEnc, enabledAt: null },
          data: { secretEnc: tfa.pendingSecretEnc, secretKeyId: tfa.pendingKeyId, enabledAt: new Date(), deviceName, pendingSecretEnc: null, pendingKeyId: null, pendingCreatedAt: null }
        })
        if (count !== 1) throw new AppError('tfaNotPending')
        const recoveryCodes = await replaceRecoveryCodes(tx, userId)
        return { enabled: true as const, device_name: deviceName, recovery_codes: recoveryCodes }
      })
    },

    async disable (userId: string, codes: { totp?: string, recovery_code?: string }) {
      const tfa = await loadEnabled(userId)
      const outcome = await secondFactor.verifyAnyCode(userId, tfa.sealed, {
        totp: codes.totp === undefined ? undefined : normalizeTotpInput(codes.totp),
        recoveryCode: codes.totp === undefined ? codes.recovery_code : undefined
      })
      if (!outcome.ok) throwCodeFailure(outcome, 'invalidToken')
      await prisma.$transaction([
        prisma.recoveryCode.deleteMany({ where: { userId } }),
        prisma.twoFactor.delete({ where: { userId } })
      ])
      await secondFactor.forget(userId)
      return { enabled: false as const }
    },

    async status (userId: string) {
      const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
      const enabled = tfa?.enabledAt != null
      return {
        enabled,
        pending: tfa?.pendingSecretEnc != null,
        device_name: enabled ? tfa?.deviceName ?? DEFAULT_DEVICE_NAME : null,
        recovery_codes_left: enabled ? await countRecoveryCodesLeft(prisma, userId) : 0
      }
    },

    async regenerateRecoveryCodes (userId: string, totp: string) {
      const tfa = await loadEnabled(userId)
      const outcome = await secondFactor.verifyTotp(userId, secretBox.open(tfa.sealed, userId), normalizeTotpInput(totp))
      if (!outcome.ok) throwCodeFailure(outcome, 'invalidToken')
      const recoveryCodes = await prisma.$transaction(async (tx) => await replaceRecoveryCodes(tx, userId))
      return { recovery_codes: recoveryCodes }
    }
  }
}

export type TfaEnrolment = ReturnType<typeof createTfaEnrolment>
