import { createHmac, hkdfSync, randomInt } from 'node:crypto'
import { AppError } from '../errors.js'
import type { ConsumeResult, EphemeralStore } from '../store/ephemeral-store.js'
import { SmsDeliveryError, type SmsTransport } from '../sms/sms-transport.js'
import { maskPhone } from '../sms/phone.js'
import type { Config } from '../config/config.js'
import type { AuditLog, RequestContext } from './audit.js'
import { createSmsQuotas } from './sms-quotas.js'
import { smsThrottledChannel } from './signals.js'

export const SMS_CODE_TTL_SECONDS = 300
/** Nobody may use twofold to pump SMS: one message a minute, five an hour, per user. */
export const SMS_SEND_THROTTLE = { intervalMs: 60_000, max: 5, windowMs: 3_600_000 }

/** `verify`: a number being verified (enrolment); `auth`: a login or protected action. */
export type SmsPurpose = 'verify' | 'auth'

/** Whose code, for what, to which number: a code fits exactly one of these. */
export interface SmsCodeTarget { userId: string, phone: string, purpose: SmsPurpose }

export interface SmsCodesDeps {
  store: EphemeralStore
  transport: SmsTransport
  /** The secrets' encryption key: a code hash is keyed from it, so a Redis dump alone can't be brute-forced. */
  hashKeySource: Buffer
  issuer: string
  now: () => number
  audit: AuditLog
  limits: Config['smsLimits']
}

export type SendOutcome =
  | { status: 'sent', phone: string, expiresIn: number }
  | { status: 'throttled', phone: string, retryAfterMs: number }
  /** A per-number, per-IP or service-wide quota, or the country list, refused the send. */
  | { status: 'limited', phone: string, limit: string, retryAfterMs: number }
  | { status: 'locked', lockedMs: number }

/** One-time SMS codes: generated, sent through the transport, kept in the store only as a keyed hash, used once. */
export function createSmsCodes ({ store, transport, hashKeySource, issuer, now, audit, limits }: SmsCodesDeps) {
  const hashKey = Buffer.from(hkdfSync('sha256', hashKeySource, Buffer.alloc(0), 'twofold sms code v1', 32))
  const quotas = createSmsQuotas({ store, limits, hashKey, audit })

  /** Bound to user, purpose and number: a code sent to one number or for one purpose fits nothing else. */
  const hashOf = ({ userId, purpose, phone }: SmsCodeTarget, code: string) =>
    createHmac('sha256', hashKey).update(`${userId}\n${purpose}\n${phone}\n${code}`).digest('base64url')

  const expires = `It expires in ${SMS_CODE_TTL_SECONDS / 60} minutes.`
  const messageFor = (purpose: SmsPurpose, code: string) => purpose === 'verify'
    ? `${code} is your ${issuer} code to verify this phone number. ${expires}`
    : `${code} is your ${issuer} login code. ${expires} Never share it: ${issuer} will not ask you for it.`

  return {
    assertConfigured () {
      if (transport.kind === 'none') throw new AppError('smsNotConfigured')
    },

    /** Refuses a number SMS may not go to (SMS_ALLOWED_COUNTRIES) before it is kept anywhere. */
    assertAllowedNumber (target: SmsCodeTarget, ctx: RequestContext = {}) {
      if (!quotas.countryAllowed(target.phone)) {
        quotas.reportCountry(target, ctx)
        throw new AppError('smsCountryNotAllowed')
      }
    },

    /**
     * Sends a fresh code (once delivered, it replaces any earlier one) unless the factor is
     * locked (a lock sends nothing) or the throttle says wait. A failed delivery gives the
     * minute back, so the user may retry at once, but still counts in the hour.
     */
    async send (target: SmsCodeTarget, ctx: RequestContext = {}): Promise<SendOutcome> {
      const { userId, phone, purpose } = target
      const lockedMs = await store.lockedMs(userId)
      if (lockedMs > 0) return { status: 'locked', lockedMs }
      const masked = maskPhone(phone)
      const takenAt = now()
      const slot = await store.takeSendSlot(userId, takenAt, SMS_SEND_THROTTLE)
      if (!slot.allowed) {
        // Not audited (one row per impatient click): metrics hear it on this channel (plugins/metrics.ts).
        smsThrottledChannel.publish({ purpose })
        return { status: 'throttled', phone: masked, retryAfterMs: slot.retryAfterMs }
      }
      // After the user's own throttle, so that a user's retries inside the minute spend no quota.
      const quota = await quotas.take(target, ctx)
      if (!quota.allowed) {
        await store.releaseSendInterval(userId, takenAt)
        return { status: 'limited', phone: masked, limit: quota.limit, retryAfterMs: quota.retryAfterMs }
      }
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0')
      try {
        await transport.send({ to: phone, message: messageFor(purpose, code) })
      } catch (err) {
        // The code that was sent before stays valid: a failed resend must not take it away.
        await store.releaseSendInterval(userId, takenAt)
        if (err instanceof SmsDeliveryError) {
          audit.record('sms.delivery_failed', userId, ctx, { purpose, phone: masked, reason: err.message })
          throw new AppError('smsDeliveryFailed')
        }
        throw err
      }
      // Stored once delivered (a gateway takes seconds to reach a phone, we take a millisecond).
      await store.putSmsCode(userId, hashOf(target, code), takenAt + SMS_CODE_TTL_SECONDS * 1000, SMS_CODE_TTL_SECONDS * 1000 + 60_000)
      audit.record('sms.sent', userId, ctx, { purpose, phone: masked })
      return { status: 'sent', phone: masked, expiresIn: SMS_CODE_TTL_SECONDS }
    },

    /** Uses the code sent to `target`: once, within its lifetime, unless locked. Counting failures is the caller's. */
    async verify (target: SmsCodeTarget, code: string): Promise<ConsumeResult> {
      if (!/^[0-9]{6}$/.test(code)) return { status: 'rejected' }
      return await store.consumeSmsCode(target.userId, hashOf(target, code), now())
    }
  }
}

export type SmsCodes = ReturnType<typeof createSmsCodes>

/** The answer to an explicit send request that a quota or the country list refused. */
export function throwLimited (outcome: { limit: string, retryAfterMs: number }): never {
  if (outcome.limit === 'country') throw new AppError('smsCountryNotAllowed')
  throw new AppError('smsQuotaReached', { retryAfterSeconds: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)) })
}

/** The answer to an explicit send request that the throttle refused. */
export function throwThrottled (outcome: { retryAfterMs: number }): never {
  throw new AppError('smsThrottled', { retryAfterSeconds: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)) })
}
