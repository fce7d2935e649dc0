import { Type } from '@sinclair/typebox'
import { storedText } from './credentials.js'
import { UNAUTHENTICATED } from './responses.js'
import { UserKindSchema } from './users.js'

export const AdminUserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  kind: UserKindSchema,
  created_at: Type.String({ format: 'date-time' }),
  tfa: Type.Object({
    enabled: Type.Boolean(),
    pending: Type.Boolean(),
    enabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    devices: Type.Array(Type.Object({ name: Type.String(), type: Type.Union([Type.Literal('totp'), Type.Literal('sms')]) }, { additionalProperties: false })),
    recovery_codes_left: Type.Integer(),
    protected_actions: Type.Array(Type.String()),
    locked: Type.Boolean({ description: 'The second factor is locked after repeated wrong codes.' }),
    locked_for_seconds: Type.Integer(),
    failures: Type.Integer({ description: 'Wrong codes in a row so far.' }),
    lockouts: Type.Integer({ description: 'Lockouts in a row since the last good code: each doubles the next lock (TFA_LOCK_MAX_SECONDS at most). An unlock starts over.' })
  }, { additionalProperties: false })
}, { $id: 'AdminUser', additionalProperties: false })

export const FindUsersQuerySchema = Type.Object({
  username: Type.Optional(storedText({ minLength: 1, maxLength: 64 })),
  prefix: Type.Optional(storedText({ minLength: 1, maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 }))
}, { additionalProperties: false })

export const KindBodySchema = Type.Object({ kind: UserKindSchema }, { additionalProperties: false })

export const ADMIN_ERRORS = {
  ...UNAUTHENTICATED,
  403: 'Not an administrator; a token from an API key; an administrator with TFA whose token did not pass it; or (ADMIN_REQUIRE_TFA) an administrator without TFA.'
}
