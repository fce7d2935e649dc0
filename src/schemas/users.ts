import { Type } from '@sinclair/typebox'
import { passwordInput, RecoveryCodeSchema, TotpSchema, UsernameSchema } from './credentials.js'

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String()
}, { $id: 'User', additionalProperties: false })

export const UserKindSchema = Type.Union([Type.Literal('human'), Type.Literal('automation')], {
  description: '`automation` for an account used by scripts: enabling TFA on it then needs `confirm_automation` (default `human`).'
})

export const RegisterBodySchema = Type.Object({
  username: UsernameSchema,
  password: passwordInput('8 to 72 bytes of UTF-8.'),
  kind: Type.Optional(UserKindSchema)
}, { additionalProperties: false })

export const ChangePasswordBodySchema = Type.Object({
  current_password: passwordInput(),
  new_password: passwordInput('8 to 72 bytes of UTF-8.'),
  totp: Type.Optional(TotpSchema),
  recovery_code: Type.Optional(RecoveryCodeSchema)
}, { additionalProperties: false })
