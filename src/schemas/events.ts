import { Type } from '@sinclair/typebox'

export const SecurityEventSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.String({ description: 'e.g. login.succeeded, login.failed, tfa.enabled, tfa.disabled, tfa.locked, tfa.recovery_code_used, password.changed, admin.tfa_reset, admin.kind_changed, api_key.created, api_key.revoked, api_key.used (at most hourly per key), tfa.sms_enrolment_started, sms.sent, sms.delivery_failed' }),
  created_at: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], { description: 'Facts about the event (amr, reason, device name…); never a secret.' })
}, { $id: 'SecurityEvent', additionalProperties: false })

export const EventPageSchema = Type.Object({
  events: Type.Array(Type.Ref('SecurityEvent')),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next (older) page; null on the last page.' })
}, { $id: 'EventPage', additionalProperties: false })

export const EventQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ format: 'uuid' }))
}, { additionalProperties: false })
