import { Type } from '@sinclair/typebox'
import { PROTECTED_ACTIONS } from '../auth/protected-actions.js'
import { RECOVERY_CODE_COUNT } from '../auth/recovery-codes.js'
import { RecoveryCodeSchema, storedText, TotpSchema } from './credentials.js'

export const RecoveryCodesSchema = Type.Array(Type.String(), {
  minItems: RECOVERY_CODE_COUNT,
  maxItems: RECOVERY_CODE_COUNT,
  description: 'Ten single-use recovery codes. Shown only in this response: ask the user to store them safely.'
})

export const DeviceNameSchema = (description: string) => storedText({ minLength: 1, maxLength: 64, description })

export const TfaStatusSchema = Type.Object({
  enabled: Type.Boolean(),
  method: Type.Union([Type.Literal('totp'), Type.Literal('sms'), Type.Null()], { description: 'The second factor in use: an authenticator app (`totp`) or `sms`; null when off.' }),
  phone: Type.Union([Type.String(), Type.Null()], { description: 'With SMS on: the verified number, masked (e.g. `+49••••••••89`).' }),
  pending: Type.Boolean({ description: 'A secret from /tfa/enable awaits its first code.' }),
  device_name: Type.Union([Type.String(), Type.Null()]),
  recovery_codes_left: Type.Integer()
}, { $id: 'TfaStatus', additionalProperties: false })

export const ProtectedActionsSchema = Type.Array(Type.Union(PROTECTED_ACTIONS.map(a => Type.Literal(a))), {
  uniqueItems: true,
  description: 'Actions that need a code when TFA is on. Default: ["login", "password_change"].'
})

export const TfaSettingsSchema = Type.Object({
  protected_actions: ProtectedActionsSchema,
  always_protected: Type.Array(Type.String(), { description: 'Actions that always need a code: disabling TFA, regenerating recovery codes, changing these settings.' })
}, { $id: 'TfaSettings', additionalProperties: false })

export const EnableBodySchema = Type.Object({
  confirm_automation: Type.Optional(Type.Boolean({ description: 'Enable TFA on an automation account anyway.' }))
}, { additionalProperties: false, description: 'Optional: no body is the same as `{}`.' })

export const PendingSecretSchema = Type.Object({
  secret: Type.String({ description: 'Base32 secret (160 bits) for manual entry ("unable to scan?").' }),
  otpauth_url: Type.String({ description: 'otpauth://totp/<issuer>:<username>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30' }),
  qr_code: Type.String({ description: 'data:image/png;base64,… PNG QR code of `otpauth_url`.' }),
  warning: Type.String({ description: 'TFA also applies to API logins: do not enable it on accounts used by automation.' })
}, { additionalProperties: false, description: 'A pending secret: show the QR code (and the secret for manual entry), then ask for a code.' })

export const ValidateBodySchema = Type.Object({
  totp: TotpSchema,
  device_name: Type.Optional(DeviceNameSchema('A name for the authenticator, default "unnamed".'))
}, { additionalProperties: false })

export const EnabledSchema = Type.Object({ enabled: Type.Literal(true), device_name: Type.String(), recovery_codes: RecoveryCodesSchema }, { additionalProperties: false, description: 'TFA is on; show the recovery codes once.' })

export const DisableBodySchema = Type.Union([
  Type.Object({ totp: TotpSchema }, { additionalProperties: false }),
  Type.Object({ recovery_code: RecoveryCodeSchema }, { additionalProperties: false })
])

export const DisabledSchema = Type.Object({ enabled: Type.Literal(false) }, { additionalProperties: false, description: 'TFA is off; its secret and recovery codes are deleted.' })

export const CodeBodySchema = Type.Object({ totp: TotpSchema }, { additionalProperties: false })

export const NewRecoveryCodesSchema = Type.Object({ recovery_codes: RecoveryCodesSchema }, { additionalProperties: false, description: 'New codes; the old ones no longer work.' })

export const RenameBodySchema = Type.Object({ device_name: DeviceNameSchema('The new name.') }, { additionalProperties: false })

export const UpdateSettingsBodySchema = Type.Object({ protected_actions: ProtectedActionsSchema, totp: Type.Optional(TotpSchema) }, { additionalProperties: false })

export const TrustedDeviceSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String({ description: 'From the user agent of the login that remembered it, e.g. `Firefox on Linux`.' }),
  created_at: Type.String({ format: 'date-time', description: 'The login with a code that remembered it.' }),
  last_used_at: Type.String({ format: 'date-time', description: 'The last login it spared the code (or its creation).' }),
  expires_at: Type.String({ format: 'date-time', description: 'From then on the code is asked again (created_at + TRUSTED_DEVICE_DAYS).' })
}, { $id: 'TrustedDevice', additionalProperties: false })

export const TrustedDeviceListSchema = Type.Object({
  devices: Type.Array(Type.Ref('TrustedDevice'))
}, { $id: 'TrustedDeviceList', additionalProperties: false })
