import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { maskPhone } from '../sms/phone.js'
import type { SessionService } from '../sessions/session-service.js'
import type { TrustedDevices } from './trusted-devices.js'
import type { AuditLog, RequestContext } from './audit.js'
import { activeFactor, assertNoFactorOn, DEFAULT_DEVICE_NAME, FACTOR_SELECT } from './factors.js'
import { switchFactorOn } from './factor-activation.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import type { SecretBox } from './secret-box.js'
import { getUser } from './users.js'
import { throwLimited, throwThrottled, type SmsCodes, type SmsCodeTarget } from './sms-codes.js'

interface Deps {
  prisma: PrismaClient
  secondFactor: SecondFactorService
  secretBox: SecretBox
  sms: SmsCodes
  audit: AuditLog
  now: () => number
  sessions: Pick<SessionService, 'endAll'>
  trustedDevices: Pick<TrustedDevices, 'revokeAll'>
}

/** SMS as the second factor, for users without an authenticator app: register a number, prove it with a code, then it guards logins like TOTP. */
export function createSmsTfaService ({ prisma, secondFactor, secretBox, sms, audit, now, sessions, trustedDevices }: Deps) {
  /** Sends and turns the two refusals (locked, throttled) into their errors. */
  async function sendOrThrow (target: SmsCodeTarget, ctx: RequestContext) {
    const outcome = await sms.send(target, ctx)
    if (outcome.status === 'locked') throwCodeFailure(outcome, 'tfaLocked')
    if (outcome.status === 'throttled') throwThrottled(outcome)
    if (outcome.status === 'limited') throwLimited(outcome)
    return { phone: outcome.phone, expires_in: outcome.expiresIn }
  }

  return {
    /** Keeps `phone` as the pending number (replacing an earlier one) and sends it a verification code. */
    async start (userId: string, { phone, confirmAutomation = false }: { phone: string, confirmAutomation?: boolean }, ctx: RequestContext = {}) {
      sms.assertConfigured()
      const user = await getUser(prisma, userId)
      assertNoFactorOn(await prisma.twoFactor.findUnique({ where: { userId: user.id }, select: { enabledAt: true, method: true } }), 'sms')
      if (user.kind === 'automation' && !confirmAutomation) throw new AppError('automationAccount')
      sms.assertAllowedNumber({ userId: user.id, phone, purpose: 'verify' }, ctx)
      const sealed = secretBox.seal(phone, user.id)
      const pending = { pendingPhoneEnc: sealed.ciphertext, pendingPhoneKeyId: sealed.keyId }
      await prisma.twoFactor.upsert({ where: { userId: user.id }, create: { userId: user.id, ...pending }, update: pending })
      const sent = await sendOrThrow({ userId: user.id, phone, purpose: 'verify' }, ctx)
      audit.record('tfa.sms_enrolment_started', user.id, ctx, { phone: sent.phone })
      return sent
    },

    /** The code sent to the pending number switches SMS two-factor on, with fresh recovery codes. */
    async verify (userId: string, { code, deviceName = DEFAULT_DEVICE_NAME }: { code: string, deviceName?: string }, ctx: RequestContext = {}) {
      const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
      assertNoFactorOn(tfa, 'sms')
      if (tfa?.pendingPhoneEnc == null || tfa.pendingPhoneKeyId === null) throw new AppError('smsNotPending')
      const phone = secretBox.open({ ciphertext: tfa.pendingPhoneEnc, keyId: tfa.pendingPhoneKeyId }, userId)
      const outcome = await secondFactor.verifySms({ userId, phone, purpose: 'verify' }, normalizeTotpInput(code), ctx)
      if (!outcome.ok) throwCodeFailure(outcome, 'invalidToken')
      const masked = maskPhone(phone)
      const recoveryCodes = await switchFactorOn(prisma, {
        userId,
        pending: { pendingPhoneEnc: tfa.pendingPhoneEnc },
        factor: { method: 'sms', phoneEnc: tfa.pendingPhoneEnc, phoneKeyId: tfa.pendingPhoneKeyId },
        deviceName,
        notPending: 'smsNotPending',
        now
      })
      audit.record('tfa.enabled', userId, ctx, { method: 'sms', phone: masked, device_name: deviceName })
      await sessions.endAll(userId, { except: ctx.sessionId, reason: 'tfa_enabled' }, ctx)
      await trustedDevices.revokeAll(userId, 'tfa_enabled', ctx)
      return { enabled: true as const, method: 'sms' as const, phone: masked, device_name: deviceName, recovery_codes: recoveryCodes }
    },

    /** A code for a protected action other than login (disable, recovery codes, settings, password). */
    async sendCode (userId: string, ctx: RequestContext = {}) {
      sms.assertConfigured()
      const factor = activeFactor(await prisma.twoFactor.findUnique({ where: { userId }, select: FACTOR_SELECT }))
      if (factor?.method !== 'sms') throw new AppError('smsNotEnabled')
      return await sendOrThrow({ userId, phone: secretBox.open(factor.phone, userId), purpose: 'auth' }, ctx)
    }
  }
}

export type SmsTfaService = ReturnType<typeof createSmsTfaService>
