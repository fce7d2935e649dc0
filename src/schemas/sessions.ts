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

/**
 * Browser sessions (src/plugins/browser-session.ts, README "Reference UI"): with this header the
 * refresh token, the remembered-device token and the device cookie travel as HttpOnly cookies
 * instead of in the JSON. Declared on the routes it changes, so the OpenAPI document (and the
 * typed client built from it) is enough to build a browser frontend.
 */
export const BrowserSessionHeadersSchema = Type.Object({
  'x-twofold-session': Type.Optional(Type.Literal('cookie', {
    description: 'Browser session: `refresh_token`, `device_token` and `device_cookie` move from the JSON into HttpOnly, ' +
      'SameSite=Strict cookies scoped to the path that reads them, and are read back from there. Without it (API clients) nothing changes.'
  }))
})
