import { Type } from '@sinclair/typebox'
import { SMS_CODE_TTL_SECONDS, SMS_SEND_THROTTLE } from '../auth/sms-codes.js'
import { E164_PATTERN } from '../sms/phone.js'
import { TotpSchema } from './credentials.js'
import { DeviceNameSchema, RecoveryCodesSchema } from './tfa.js'

export const CodeSentSchema = Type.Object({
  phone: Type.String({ description: 'The number the code went to, masked (e.g. `+49••••••••89`).' }),
  expires_in: Type.Integer({ description: `Seconds the code stays valid (${SMS_CODE_TTL_SECONDS}).` })
}, { $id: 'SmsCodeSent', additionalProperties: false })

export const SMS_THROTTLE_TEXT = `at most one SMS per ${SMS_SEND_THROTTLE.intervalMs / 1000} s and ${SMS_SEND_THROTTLE.max} per hour and user`

export const StartSmsBodySchema = Type.Object({
  phone: Type.String({ pattern: E164_PATTERN, description: 'E.164: `+`, country code and number, no spaces (e.g. `+4915123456789`).', examples: ['+4915123456789'] }),
  confirm_automation: Type.Optional(Type.Boolean({ description: 'Enable TFA on an automation account anyway.' }))
}, { additionalProperties: false })

export const VerifySmsBodySchema = Type.Object({
  code: TotpSchema,
  device_name: Type.Optional(DeviceNameSchema('A name for the phone, default "unnamed".'))
}, { additionalProperties: false })

export const SmsEnabledSchema = Type.Object({
  enabled: Type.Literal(true),
  method: Type.Literal('sms'),
  phone: Type.String({ description: 'The verified number, masked.' }),
  device_name: Type.String(),
  recovery_codes: RecoveryCodesSchema
}, { additionalProperties: false, description: 'SMS two-factor authentication is on; show the recovery codes once.' })

export const SMS_UNAVAILABLE = {
  501: 'SMS is not configured on this server (`SMS_TRANSPORT`).',
  503: 'The SMS gateway did not take the message (retry), or a backing service is unavailable.'
}
export const SMS_SEND_LIMITS = { 429: `Sent too recently (${SMS_THROTTLE_TEXT}), an hourly SMS quota is used up (per number, per client address for enrolments, or for the whole service), too many requests, or the second factor is locked; see \`Retry-After\`.` }
