import { Type } from '@sinclair/typebox'
import { ENROLL_SCOPE } from '../auth/tokens.js'
import { passwordInput, RecoveryCodeSchema, TotpSchema, UsernameSchema } from './credentials.js'
import { exampleError } from './responses.js'

export const TokenResponseSchema = Type.Object({
  access_token: Type.String({ description: 'An RFC 9068 access token: a JWT signed with JWT_ALGORITHM (EdDSA by default; keys at GET /.well-known/jwks.json), header `typ: "at+jwt"` and `kid`, claims `iss`, `sub` (user id), `aud`, `exp`, `iat`, `jti`, `client_id`, `amr` (RFC 8176), `auth_time`, `sid` (the session) and `scope` when one applies.' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Lifetime in seconds.' }),
  scope: Type.Optional(Type.Literal(ENROLL_SCOPE, { description: 'Present when the token only allows enrolment in TFA (mandatory TFA).' })),
  tfa_enrollment_required: Type.Optional(Type.Boolean({ description: 'TFA is mandatory and this user has none: the token only works for GET /me, GET /tfa, /tfa/enable and /tfa/validate. Enrol, then log in again.' })),
  tfa_reminder: Type.Optional(Type.String({ description: 'TFA becomes mandatory on a date: remind the user to enable it.' })),
  refresh_token: Type.Optional(Type.String({ description: 'Opaque (`twofold_rt_…`), single use: POST /token/refresh exchanges it for a new access token and a new refresh token. Keep it out of reach of scripts (e.g. an httpOnly cookie set by your backend, or memory). Absent for an enrolment-only login and for API-key tokens.' })),
  refresh_expires_in: Type.Optional(Type.Integer({ description: 'Seconds until the refresh token stops working unless used: the session\'s idle lifetime, or what is left of its absolute one.' })),
  session_id: Type.Optional(Type.String({ format: 'uuid', description: 'The session this login opened (the access token\'s `sid`); see GET /sessions.' }))
}, { $id: 'TokenResponse', additionalProperties: false })

export const LoginBodySchema = Type.Object({
  username: UsernameSchema,
  password: passwordInput('The password, optionally followed directly by the 6-digit code.'),
  totp: Type.Optional(TotpSchema),
  recovery_code: Type.Optional(RecoveryCodeSchema)
}, { additionalProperties: false })

/** The two 401s of a login, told apart by their body; the header says which code to ask for. */
export const LoginUnauthorizedResponse = {
  description: 'Either the username or password is wrong (`Invalid username or password.`), or the password is right but ' +
    'two-factor authentication is on and the code is missing, wrong, expired or already used: then the body is exactly ' +
    'the `tfaRequired` example. A client should then show an extra input field for the 6-digit code (or a recovery ' +
    'code) and send the login again with the code in `totp`. The `X-TFA-Method` header (`totp` or `sms`) says which ' +
    'code to ask for ("open your authenticator app" or "we sent you a code by SMS").',
  headers: {
    'X-TFA-Method': { type: 'string', enum: ['totp', 'sms'], description: 'With the `tfaRequired` body only: the user\'s second factor, `totp` or `sms`.' }
  },
  content: {
    'application/json': {
      schema: Type.Ref('Error'),
      examples: {
        tfaRequired: { summary: 'Right password; the code is missing, wrong, expired or already used', value: exampleError('tfaRequired') },
        invalidCredentials: { summary: 'Wrong username or password', value: exampleError('invalidCredentials') }
      }
    }
  }
}
