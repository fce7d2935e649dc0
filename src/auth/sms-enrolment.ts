import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { maskPhone } from '../sms/phone.js'
import type { AuditLog, RequestContext } from './audit.js'
import { activeFactor, assertNoFactorOn, FACTOR_SELECT } from './factors.js'
import { switchFactorOn } from './factor-activation.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import type { SecretBox } from './secret-box.js'
import { throwThrottled, type SmsCodes } from './sms-codes.js'
import { DEFAULT_DEVICE_NAME } from './tfa-enrolment.js'

interface Deps {
  prisma: PrismaClient
  secondFactor: SecondFactorService
  secretBox: SecretBox
  sms: SmsCodes
  audit: AuditLog
}

/** SMS as the second factor (seed 002): register a number, prove it with a code, then it guards logins like TOTP. */
export function createSmsEnrolment ({ prisma, secondFactor, secretBox, sms, audit }: Deps) {
  /** Sends and turns the two refusals (locked, throttled) into their errors. */
  async function sendOrThrow (userId: string, phone: string, purpose: 'verify' | 'auth', ctx: RequestContext) {
    const outcome = await secondFactor.sendSms(userId, phone, purpose, ctx)
    if ('lockedMs' in outcome) throwCodeFailure(outcome, 'tfaLocked')
    if (!outcome.sent) throwThrottled(outcome)
    return { phone: outcome.phone, expires_in: outcome.expiresIn }
  }

  return {
    /** Keeps `phone` as the pending number (replacing an earlier one) and sends it a verification code. */
    async start (user: { id: string, kind?: string }, phone: string, ctx: RequestContext = {}, { confirmAutomation = false } = {}) {
      sms.assertConfigured()
      assertNoFactorOn(await prisma.twoFactor.findUnique({ where: { userId: user.id }, select: { enabledAt: true, method: true } }), 'sms')
      if (user.kind === 'automation' && !confirmAutomation) throw new AppError('automationAccount')
      const sealed = secretBox.seal(phone, user.id)
      const pending = { pendingPhoneEnc: sealed.ciphertext, pendingPhoneKeyId: sealed.keyId }
      await prisma.twoFactor.upsert({ where: { userId: user.id }, create: { userId: user.id, ...pending }, update: pending })
      const sent = await sendOrThrow(user.id, phone, 'verify', ctx)
      audit.record('tfa.sms_enrolment_started', user.id, ctx, { phone: sent.phone })
      return sent
    },

    /** The code sent to the pending number switches SMS two-factor on, with fresh recovery codes. */
    async verify (userId: string, code: string, deviceName = DEFAULT_DEVICE_NAME, ctx: RequestContext = {}) {
      const tfa = await prisma.twoFactor.findUnique({ where: { userId } })
      assertNoFactorOn(tfa, 'sms')
      if (tfa?.pendingPhoneEnc == null || tfa.pendingPhoneKeyId === null) throw new AppError('smsNotPending')
      const phone = secretBox.open({ ciphertext: tfa.pendingPhoneEnc, keyId: tfa.pendingPhoneKeyId }, userId)
      const outcome = await secondFactor.verifySms(userId, phone, 'verify', normalizeTotpInput(code), ctx)
      if (!outcome.ok) throwCodeFailure(outcome, 'invalidToken')
      const masked = maskPhone(phone)
      const recoveryCodes = await switchFactorOn(prisma, userId, { pendingPhoneEnc: tfa.pendingPhoneEnc },
        { method: 'sms', phoneEnc: tfa.pendingPhoneEnc, phoneKeyId: tfa.pendingPhoneKeyId }, deviceName, 'smsNotPending')
      audit.record('tfa.enabled', userId, ctx, { method: 'sms', phone: masked, device_name: deviceName })
      return { enabled: true as const, method: 'sms' as const, phone: masked, device_name: deviceName, recovery_codes: recoveryCodes }
    },

    /** A code for a protected action other than login (disable, recovery codes, settings, password). */
    async sendCode (userId: string, ctx: RequestContext = {}) {
      sms.assertConfigured()
      const factor = activeFactor(await prisma.twoFactor.findUnique({ where: { userId }, select: FACTOR_SELECT }))
      if (factor?.method !== 'sms') throw new AppError('smsNotEnabled')
      return await sendOrThrow(userId, secretBox.open(factor.phone, userId), 'auth', ctx)
    }
  }
}

export type SmsEnrolment = ReturnType<typeof createSmsEnrolment>
