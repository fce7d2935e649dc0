import { Type } from '@sinclair/typebox'

export const SessionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time', description: 'The login that opened it.' }),
  last_used_at: Type.String({ format: 'date-time', description: 'The last refresh (or the login).' }),
  expires_at: Type.String({ format: 'date-time', description: 'When it ends unless refreshed: the idle end, or the absolute end if sooner.' }),
  ip: Type.Union([Type.String(), Type.Null()], { description: 'The client address at login.' }),
  user_agent: Type.Union([Type.String(), Type.Null()], { description: 'The client at login.' }),
  amr: Type.Array(Type.String(), { description: 'How the login was made (RFC 8176), e.g. `["pwd","otp","mfa"]`.' }),
  current: Type.Boolean({ description: 'The session of the token making this request.' })
}, { $id: 'Session', additionalProperties: false })

export const SessionListSchema = Type.Object({
  sessions: Type.Array(Type.Ref('Session'))
}, { $id: 'SessionList', additionalProperties: false })

export const RefreshBodySchema = Type.Object({
  refresh_token: Type.String({ minLength: 1, maxLength: 256 })
}, { additionalProperties: false })
