import { createHmac } from 'node:crypto'
import type { Config } from '../config/config.js'
import type { EphemeralStore } from '../store/ephemeral-store.js'
import type { SmsQuotaScope } from '../store/keys.js'
import { maskPhone } from '../sms/phone.js'
import type { AuditLog, RequestContext } from './audit.js'
import type { SmsCodeTarget } from './sms-codes.js'

const HOUR_MS = 3_600_000

export type QuotaVerdict = { allowed: true } | { allowed: false, limit: SmsQuotaScope | 'country', retryAfterMs: number }

interface Deps {
  store: EphemeralStore
  limits: Config['smsLimits']
  /** Keys the number's quota name, so Redis holds no phone number in clear. */
  hashKey: Buffer
  audit: AuditLog
}

/**
 * What SMS may cost the operator, beyond the per-user throttle (which fresh accounts get around:
 * one number once received 40 codes from 40 accounts in 7 s): sends per number, enrolment sends
 * per client IP, every send of the service, each per hour and shared by all instances; and the
 * countries SMS may go to at all (premium-rate ranges are where pumping pays). A limit that
 * trips leaves an `sms.limit_reached` event, the signal to count and alert on.
 */
export function createSmsQuotas ({ store, limits, hashKey, audit }: Deps) {
  const numberId = (phone: string) => createHmac('sha256', hashKey).update(`quota\n${phone}`).digest('base64url')

  function countryAllowed (phone: string): boolean {
    return limits.allowedCountries === undefined || limits.allowedCountries.some(prefix => phone.startsWith(prefix))
  }

  function tripped (target: SmsCodeTarget, ctx: RequestContext, limit: SmsQuotaScope | 'country', retryAfterMs: number): QuotaVerdict {
    audit.record('sms.limit_reached', target.userId, ctx, { limit, purpose: target.purpose, phone: maskPhone(target.phone) })
    return { allowed: false, limit, retryAfterMs }
  }

  return {
    countryAllowed,

    /** A number refused for its country before any send (enrolment): the same event as at a send. */
    reportCountry (target: SmsCodeTarget, ctx: RequestContext) { tripped(target, ctx, 'country', 0) },

    /** Takes one send from every quota that applies, the narrowest first; the first that refuses wins. */
    async take (target: SmsCodeTarget, ctx: RequestContext): Promise<QuotaVerdict> {
      if (!countryAllowed(target.phone)) return tripped(target, ctx, 'country', 0)
      const quotas: Array<[SmsQuotaScope, string, number]> = [
        ...(target.purpose === 'verify' && ctx.ip !== undefined ? [['ip', ctx.ip, limits.enrolIpMaxPerHour] as [SmsQuotaScope, string, number]] : []),
        ['number', numberId(target.phone), limits.numberMaxPerHour],
        ['global', '', limits.globalMaxPerHour]
      ]
      for (const [scope, id, max] of quotas) {
        const quota = await store.takeSmsQuota(scope, id, { max, windowMs: HOUR_MS })
        if (!quota.allowed) return tripped(target, ctx, scope, quota.retryAfterMs)
      }
      return { allowed: true }
    }
  }
}

export type SmsQuotas = ReturnType<typeof createSmsQuotas>
