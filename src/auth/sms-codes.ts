import { createHmac, hkdfSync, randomInt } from 'node:crypto'
import { AppError } from '../errors.js'
import type { EphemeralStore, FactorKeys } from '../store/ephemeral-store.js'
import { SmsDeliveryError, type SmsTransport } from '../sms/sms-transport.js'
import { maskPhone } from '../sms/phone.js'
import type { AuditLog, RequestContext } from './audit.js'

export const SMS_CODE_TTL_SECONDS = 300
/** Nobody may use twofold to pump SMS: one message a minute, five an hour, per user. */
export const SMS_SEND_THROTTLE = { intervalMs: 60_000, max: 5, windowMs: 3_600_000 }

/** `verify`: a number being verified (enrolment); `auth`: a login or protected action. */
export type SmsPurpose = 'verify' | 'auth'

export interface SmsCodesDeps {
  store: EphemeralStore
  transport: SmsTransport
  /** The secrets' encryption key: a code hash is keyed from it, so a Redis dump alone can't be brute-forced. */
  hashKeySource: Buffer
  issuer: string
  now: () => number
  audit: AuditLog
}

export type SendOutcome = { sent: true, phone: string, expiresIn: number } | { sent: false, phone: string, retryAfterMs: number }

/** One-time SMS codes: generated, sent through the transport, kept in the store only as a keyed hash. */
export function createSmsCodes ({ store, transport, hashKeySource, issuer, now, audit }: SmsCodesDeps) {
  const hashKey = Buffer.from(hkdfSync('sha256', hashKeySource, Buffer.alloc(0), 'twofold sms code v1', 32))

  /** Bound to user, purpose and number: a code sent to one number or for one purpose fits nothing else. */
  const hashOf = (userId: string, purpose: SmsPurpose, phone: string, code: string) =>
    createHmac('sha256', hashKey).update(`${userId}\n${purpose}\n${phone}\n${code}`).digest('base64url')

  const expires = `It expires in ${SMS_CODE_TTL_SECONDS / 60} minutes.`
  const messageFor = (purpose: SmsPurpose, code: string) => purpose === 'verify'
    ? `${code} is your ${issuer} code to verify this phone number. ${expires}`
    : `${code} is your ${issuer} login code. ${expires} Never share it: ${issuer} will not ask you for it.`

  return {
    assertConfigured () {
      if (transport.kind === 'none') throw new AppError('smsNotConfigured')
    },

    /**
     * Sends a fresh code (once delivered, it replaces any earlier one) unless the throttle says
     * wait. A failed delivery gives the minute back, so the user may retry at once, but still
     * counts in the hour.
     */
    async send (userId: string, keys: FactorKeys, phone: string, purpose: SmsPurpose, ctx: RequestContext = {}): Promise<SendOutcome> {
      const masked = maskPhone(phone)
      const takenAt = now()
      const slot = await store.takeSendSlot(keys.smsSend, takenAt, SMS_SEND_THROTTLE)
      if (!slot.allowed) return { sent: false, phone: masked, retryAfterMs: slot.retryAfterMs }
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0')
      try {
        await transport.send({ to: phone, message: messageFor(purpose, code) })
      } catch (err) {
        // The code that was sent before stays valid: a failed resend must not take it away.
        await store.releaseSendInterval(keys.smsSend, takenAt)
        if (err instanceof SmsDeliveryError) {
          audit.record('sms.delivery_failed', userId, ctx, { purpose, phone: masked, reason: err.message })
          throw new AppError('smsDeliveryFailed')
        }
        throw err
      }
      // Stored once delivered (a gateway takes seconds to reach a phone, we take a millisecond).
      await store.putCode(keys.smsCode, hashOf(userId, purpose, phone, code), takenAt + SMS_CODE_TTL_SECONDS * 1000, SMS_CODE_TTL_SECONDS * 1000 + 60_000)
      audit.record('sms.sent', userId, ctx, { purpose, phone: masked })
      return { sent: true, phone: masked, expiresIn: SMS_CODE_TTL_SECONDS }
    },

    hashOf
  }
}

export type SmsCodes = ReturnType<typeof createSmsCodes>

/** The answer to an explicit send request that the throttle refused. */
export function throwThrottled (outcome: { retryAfterMs: number }): never {
  throw new AppError('smsThrottled', undefined, Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)))
}
