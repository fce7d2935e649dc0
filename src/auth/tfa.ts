import QRCode from 'qrcode'
import type { Config } from '../config/config.js'
import { AppError, AUTOMATION_WARNING } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { SessionService } from '../sessions/session-service.js'
import type { TrustedDevices } from './trusted-devices.js'
import type { AuditLog, RequestContext } from './audit.js'
import { activeFactor, assertNoFactorOn, DEFAULT_DEVICE_NAME, FACTOR_SELECT, type ActiveFactor } from './factors.js'
import { ALWAYS_PROTECTED, type ProtectedAction } from './protected-actions.js'
import { switchFactorOn } from './factor-activation.js'
import { countRecoveryCodesLeft, replaceRecoveryCodes } from './recovery-codes.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import type { SecretBox } from './secret-box.js'
import { getUser } from './users.js'
import { buildOtpauthUrl, generateTotpSecret } from './totp.js'
import { maskPhone } from '../sms/phone.js'

interface Deps {
  prisma: PrismaClient
  secondFactor: SecondFactorService
  secretBox: SecretBox
  config: Pick<Config, 'tfa'>
  audit: AuditLog
  now: () => number
  sessions: Pick<SessionService, 'endAll'>
  trustedDevices: Pick<TrustedDevices, 'revokeAll'>
}

/**
 * The user's two-factor settings: TOTP enable → validate → disable (for either method), the
 * status, the recovery codes that come with an enabled factor, the device name and which
 * actions need a code.
 */
export function createTfaService ({ prisma, secondFactor, secretBox, config, audit, now, sessions, trustedDevices }: Deps) {
  async function loadEnabled (userId: string): Promise<ActiveFactor> {
    const factor = activeFactor(await prisma.twoFactor.findUnique({ where: { userId }, select: FACTOR_SELECT }))
    if (factor === null) throw new AppError('tfaNotEnabled')
    return factor
  }

  /** A current code of the active factor (TOTP, or the SMS code from POST /tfa/sms/send). */
  async function verifyCurrentCode (factor: ActiveFactor, userId: string, code: string, ctx: RequestContext) {
    const outcome = await secondFactor.verifyAnyCode(userId, factor, { code: normalizeTotpInput(code) }, ctx)
    if (!outcome.ok) throwCodeFailure(outcome, 'invalidToken')
  }

  return {
    /**
     * A new pending secret, replacing any earlier pending one; TFA is not on until validated.
     * On an automation account only with `confirmAutomation`: TFA there would break its scripts.
     */
    async enable (userId: string, { confirmAutomation = false }: { confirmAutomation?: boolean } = {}, ctx: RequestContext = {}) {
      const user = await getUser(prisma, userId)
      assertNoFactorOn(await prisma.twoFactor.findUnique({ where: { userId: user.id }, select: { enabledAt: true, method: true } }), 'totp')
      if (user.kind === 'automation' && !confirmAutomation) throw new AppError('automationAccount')
      const secret = generateTotpSecret()
      const sealed = secretBox.seal(secret, user.id)
      const pending = { pendingSecretEnc: sealed.ciphertext, pendingKeyId: sealed.keyId, pendingCreatedAt: new Date(now()) }
      await prisma.twoFactor.upsert({ where: { userId: user.id }, create: { userId: user.id, ...pending }, update: pending })
      const otpauthUrl = buildOtpauthUrl(secret, config.tfa.issuer, user.username)
      const qrCode = await QRCode.toDataURL(otpauthUrl, { errorCorrectionLevel: 'M', margin: 2, width: 256 })
      audit.record('tfa.enrolment_started', user.id, ctx)
      return { secret, otpauth_url: otpauthUrl, qr_code: qrCode, warning: AUTOMATION_WARNING }
    },

    async validate (userId: string, { code, deviceName = DEFAULT_DEVICE_NAME }: { code: string, deviceName?: string }, ctx: RequestContext = {}) {
      const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
      assertNoFactorOn(tfa, 'totp')
      if (tfa?.pendingSecretEnc == null || tfa.pendingKeyId === null) throw new AppError('tfaNotPending')
      const secret = secretBox.open({ ciphertext: tfa.pendingSecretEnc, keyId: tfa.pendingKeyId }, userId)
      // The activating code is recorded as used, so it can't be replayed at login.
      if (!await secondFactor.markStepUsed(userId, secret, normalizeTotpInput(code))) throw new AppError('invalidToken')
      const recoveryCodes = await switchFactorOn(prisma, {
        userId,
        pending: { pendingSecretEnc: tfa.pendingSecretEnc },
        factor: { method: 'totp', secretEnc: tfa.pendingSecretEnc, secretKeyId: tfa.pendingKeyId },
        deviceName,
        notPending: 'tfaNotPending',
        now
      })
      audit.record('tfa.enabled', userId, ctx, { device_name: deviceName })
      // Sessions from before the factor was on did not pass it: only the caller's stays.
      await sessions.endAll(userId, { except: ctx.sessionId, reason: 'tfa_enabled' }, ctx)
      // Devices remembered for an earlier factor did not pass this one.
      await trustedDevices.revokeAll(userId, 'tfa_enabled', ctx)
      return { enabled: true as const, device_name: deviceName, recovery_codes: recoveryCodes }
    },

    /** Works for either method: the current code (TOTP, or SMS from POST /tfa/sms/send) or a recovery code. */
    async disable (userId: string, codes: { totp?: string, recovery_code?: string }, ctx: RequestContext = {}) {
      const factor = await loadEnabled(userId)
      const outcome = await secondFactor.verifyAnyCode(userId, factor, {
        code: codes.totp === undefined ? undefined : normalizeTotpInput(codes.totp),
        recoveryCode: codes.totp === undefined ? codes.recovery_code : undefined
      }, ctx)
      if (!outcome.ok) throwCodeFailure(outcome, 'invalidToken')
      if (outcome.method === 'recovery') audit.record('tfa.recovery_code_used', userId, ctx, { action: 'tfa_disable' })
      // One conditional delete of the very factor the code was checked against: of concurrent
      // disables (a code and a recovery code, say) exactly one finds the row; the others get 409.
      const proven = factor.method === 'totp' ? { secretEnc: factor.sealed.ciphertext } : { phoneEnc: factor.phone.ciphertext }
      await prisma.$transaction(async (tx) => {
        const { count } = await tx.twoFactor.deleteMany({ where: { userId, enabledAt: { not: null }, ...proven } })
        if (count !== 1) throw new AppError('tfaNotEnabled')
        await tx.recoveryCode.deleteMany({ where: { userId } })
      })
      await secondFactor.forget(userId)
      audit.record('tfa.disabled', userId, ctx, { method: outcome.method, factor: factor.method })
      await sessions.endAll(userId, { except: ctx.sessionId, reason: 'tfa_disabled' }, ctx)
      await trustedDevices.revokeAll(userId, 'tfa_disabled', ctx)
      return { enabled: false as const }
    },

    async status (userId: string) {
      const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
      const factor = activeFactor(tfa)
      const enabled = factor !== null
      return {
        enabled,
        method: factor?.method ?? null,
        phone: factor?.method === 'sms' ? maskPhone(secretBox.open(factor.phone, userId)) : null,
        pending: tfa?.pendingSecretEnc != null,
        device_name: enabled ? tfa?.deviceName ?? DEFAULT_DEVICE_NAME : null,
        recovery_codes_left: enabled ? await countRecoveryCodesLeft(prisma, userId) : 0
      }
    },

    async regenerateRecoveryCodes (userId: string, totp: string, ctx: RequestContext = {}) {
      await verifyCurrentCode(await loadEnabled(userId), userId, totp, ctx)
      const recoveryCodes = await prisma.$transaction(async (tx) => await replaceRecoveryCodes(tx, userId))
      audit.record('tfa.recovery_codes_regenerated', userId, ctx)
      return { recovery_codes: recoveryCodes }
    },

    async renameDevice (userId: string, deviceName: string, ctx: RequestContext = {}) {
      const { count } = await prisma.twoFactor.updateMany({ where: { userId, enabledAt: { not: null } }, data: { deviceName } })
      if (count !== 1) throw new AppError('tfaNotEnabled')
      audit.record('tfa.device_renamed', userId, ctx, { device_name: deviceName })
    },

    async settings (userId: string) {
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { protectedActions: true } })
      if (user === null) throw new AppError('userGone')
      return { protected_actions: user.protectedActions as ProtectedAction[], always_protected: [...ALWAYS_PROTECTED] }
    },

    /** Choosing what needs a code is itself protected: with TFA on, it takes a current code. */
    async updateSettings (userId: string, input: { protected_actions: ProtectedAction[], totp?: string }, ctx: RequestContext = {}) {
      const actions = [...new Set(input.protected_actions)]
      if (config.tfa.required && !actions.includes('login')) throw new AppError('loginMustStayProtected')
      const factor = activeFactor(await prisma.twoFactor.findUnique({ where: { userId }, select: FACTOR_SELECT }))
      if (factor !== null) await verifyCurrentCode(factor, userId, input.totp ?? '', ctx)
      await prisma.user.update({ where: { id: userId }, data: { protectedActions: actions } })
      audit.record('tfa.settings_changed', userId, ctx, { protected_actions: actions })
      return await this.settings(userId)
    }
  }
}

export type TfaService = ReturnType<typeof createTfaService>
