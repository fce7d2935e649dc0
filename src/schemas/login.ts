import { Type } from '@sinclair/typebox'
import { ENROLL_SCOPE } from '../auth/tokens.js'
import { passwordInput, RecoveryCodeSchema, TotpSchema, UsernameSchema } from './credentials.js'
import { exampleError } from './responses.js'

const DeviceTokenSchema = Type.String({ maxLength: 128, description: 'The `device_token` an earlier login with a code gave this device ("remember this device"): with the right password it stands in for the code. Ignored when a code is given.' })
const RememberDeviceSchema = Type.Boolean({ description: 'With a code: remember this device, so later logins from it need only the password (the response carries `device_token`). Ignored without a code or when TRUSTED_DEVICE_DAYS is 0.' })

const DeviceCookieSchema = Type.String({ maxLength: 256, pattern: '^[A-Za-z0-9_.-]*$', description: 'The `device_cookie` of an earlier successful login as this username (or the `twofold_device` cookie a browser sends by itself): this client is then counted in its own small login bucket instead of the username\'s shared one, so guesses on the username from elsewhere can\'t lock it out. It never stands in for the password or a code. Ignored when invalid, expired or issued for another username.' })

const ReceiptHeader = {
  'X-TFA-Receipt': { type: 'string', description: 'With the `tfaRequired` body only: an opaque receipt (`twofold_lr_…`) for POST /login/tfa, so the code can follow without the password. Valid 5 minutes, 5 codes, until a code succeeds; dead after a lock, a TFA reset or disable and a password change.' }
}

export const TokenResponseSchema = Type.Object({
  access_token: Type.String({ description: 'An RFC 9068 access token: a JWT signed with JWT_ALGORITHM (EdDSA by default; keys at GET /.well-known/jwks.json), header `typ: "at+jwt"` and `kid`, claims `iss`, `sub` (user id), `aud`, `exp`, `iat`, `jti`, `client_id`, `amr` (RFC 8176), `auth_time`, `sid` (the session) and `scope` when one applies.' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Lifetime in seconds.' }),
  scope: Type.Optional(Type.Literal(ENROLL_SCOPE, { description: 'Present when the token only allows enrolment in TFA (mandatory TFA).' })),
  tfa_enrollment_required: Type.Optional(Type.Boolean({ description: 'TFA is mandatory and this user has none: the token only works for GET /me, GET /tfa, /tfa/enable and /tfa/validate. Enrol, then log in again.' })),
  tfa_reminder: Type.Optional(Type.String({ description: 'TFA becomes mandatory on a date: remind the user to enable it.' })),
  refresh_token: Type.Optional(Type.String({ description: 'Opaque (`twofold_rt_…`), single use: POST /token/refresh exchanges it for a new access token and a new refresh token. Keep it out of reach of scripts (e.g. an httpOnly cookie set by your backend, or memory). Absent for an enrolment-only login and for API-key tokens.' })),
  refresh_expires_in: Type.Optional(Type.Integer({ description: 'Seconds until the refresh token stops working unless used: the session\'s idle lifetime, or what is left of its absolute one.' })),
  session_id: Type.Optional(Type.String({ format: 'uuid', description: 'The session this login opened (the access token\'s `sid`); see GET /sessions.' })),
  device_cookie: Type.Optional(Type.String({ description: 'Signed (`twofold_dc_…`), after every login: proof that this client logged in as this user before, also set as the HttpOnly `twofold_device` cookie (Path=/login, SameSite=Strict). Send it as `device_cookie` with later logins as this username: they are then limited per device (`RATE_LIMIT_LOGIN_DEVICE_MAX` per window) instead of sharing the username\'s limit with everyone else. It lasts `DEVICE_COOKIE_DAYS` (a newer login gives a newer one) and skips neither the password nor the code.' })),
  device_token: Type.Optional(Type.String({ description: 'Opaque (`twofold_td_…`): after a login with a code and `remember_device: true`, or a login with a trusted device (then it is the rotated successor: the one sent stops working). Send it as `device_token` with later logins to skip the code on this device until it expires (`TRUSTED_DEVICE_DAYS`). Keep it like a refresh token (an httpOnly cookie, or the platform\'s secure storage).' }))
}, { $id: 'TokenResponse', additionalProperties: false })

export const LoginBodySchema = Type.Object({
  username: UsernameSchema,
  password: passwordInput('The password, optionally followed directly by the 6-digit code.'),
  totp: Type.Optional(TotpSchema),
  recovery_code: Type.Optional(RecoveryCodeSchema),
  device_token: Type.Optional(DeviceTokenSchema),
  remember_device: Type.Optional(RememberDeviceSchema),
  device_cookie: Type.Optional(DeviceCookieSchema)
}, { additionalProperties: false })

/** POST /login/tfa: the receipt of the 401, and the code (or a recovery code) instead of the password. */
export const ReceiptLoginBodySchema = Type.Object({
  receipt: Type.String({ minLength: 1, maxLength: 128, description: 'The `X-TFA-Receipt` header of the 401 from POST /login.' }),
  totp: Type.Optional(TotpSchema),
  recovery_code: Type.Optional(RecoveryCodeSchema),
  remember_device: Type.Optional(RememberDeviceSchema)
}, { additionalProperties: false })

/** The two 401s of a login, told apart by their body; the header says which code to ask for. */
export const LoginUnauthorizedResponse = {
  description: 'Either the username or password is wrong (`Invalid username or password.`), or the password is right but ' +
    'two-factor authentication is on and the code is missing, wrong, expired or already used: then the body is exactly ' +
    'the `tfaRequired` example. A client should then show an extra input field for the 6-digit code (or a recovery ' +
    'code) and send the login again with the code in `totp`. The `X-TFA-Method` header (`totp` or `sms`) says which ' +
    'code to ask for ("open your authenticator app" or "we sent you a code by SMS"), and `X-TFA-Receipt` lets the code ' +
    'follow without the password (POST /login/tfa).',
  headers: {
    'X-TFA-Method': { type: 'string', enum: ['totp', 'sms'], description: 'With the `tfaRequired` body only: the user\'s second factor, `totp` or `sms`.' },
    ...ReceiptHeader
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

/** The 401s of the second step: the code again (same receipt), or a receipt that can't be used any more. */
export const ReceiptUnauthorizedResponse = {
  description: 'The code is missing, wrong, expired or already used: the `tfaRequired` body, with `X-TFA-Method` and the same ' +
    '`X-TFA-Receipt` (it still works within its 5 attempts). Or the receipt is unknown, expired, spent, out of attempts, ' +
    'or ended by a lock, a TFA reset or disable or a password change: `loginReceiptInvalid`, start again with the password.',
  headers: {
    'X-TFA-Method': { type: 'string', enum: ['totp', 'sms'], description: 'With the `tfaRequired` body only.' },
    ...ReceiptHeader
  },
  content: {
    'application/json': {
      schema: Type.Ref('Error'),
      examples: {
        tfaRequired: { summary: 'The code is missing, wrong, expired or already used', value: exampleError('tfaRequired') },
        loginReceiptInvalid: { summary: 'The receipt can no longer be used', value: exampleError('loginReceiptInvalid') }
      }
    }
  }
}
