import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { normalizeUsername } from '../auth/users.js'
import { ENROLL_SCOPE } from '../plugins/auth.js'
import { contextOf } from './context.js'
import { errorResponses, exampleError, RecoveryCodeSchema, TotpSchema, UsernameSchema } from '../schemas/common.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { loginMax, loginWindowMs } = app.config.rateLimit
  // Per client IP before the body is even parsed; per username once it is, so a botnet
  // spreading guesses over many addresses still meets a limit on each account.
  const limitPerIp = app.limitBy('login-ip', (request) => request.ip, { max: loginMax, timeWindow: loginWindowMs })
  const limitPerUsername = app.limitBy('login-user',
    (request) => normalizeUsername((request.body as { username: string }).username),
    { max: loginMax, timeWindow: loginWindowMs })

  app.post('/login', {
    onRequest: [app.shedWhenBusy, limitPerIp],
    preHandler: [limitPerUsername],
    schema: {
      tags: ['authentication'],
      operationId: 'login',
      summary: 'Log in with a password, and a one-time code when two-factor authentication is on',
      description: [
        'With two-factor authentication (TFA) on, the 6-digit code is taken from `totp` when given; otherwise, when the ',
        'password field ends in six digits, those are the code ("type the code directly after your password"). ',
        'A password that itself ends in six digits still works, with or without a code appended. ',
        'A recovery code in `recovery_code` replaces the TOTP code, once per code. Fields a user without TFA ',
        'does not need are ignored. With SMS as the method, the right password without a code sends a code by SMS ',
        '(at most one a minute) and answers the same 401; send the password again with the code.'
      ].join(''),
      body: Type.Object({
        username: UsernameSchema,
        password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password, optionally followed directly by the 6-digit code.' }),
        totp: Type.Optional(TotpSchema),
        recovery_code: Type.Optional(RecoveryCodeSchema)
      }, { additionalProperties: false }),
      response: {
        200: Type.Ref('TokenResponse', { description: 'Logged in. `amr` in the token: `["pwd"]`, `["pwd","otp","mfa"]` with a TOTP code, `["pwd","sms","mfa"]` with an SMS code, `["pwd","mfa"]` with a recovery code. With mandatory TFA, a user without it gets `tfa_reminder` before `TFA_REQUIRED_FROM` and an enrolment-only token (`tfa_enrollment_required: true`) after.' }),
        ...errorResponses({
          400: 'Invalid body.',
          429: 'Too many attempts from this client or for this username (`Retry-After`), or the second factor is locked after repeated wrong codes (`Retry-After`, even with a right code).',
          503: 'Overloaded (too many password verifications waiting), a backing service is down, or the SMS gateway did not take the code; retry after `Retry-After`.'
        }),
        401: {
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
      }
    }
  }, async (request) => {
    const { userId, username, amr, tfaEnabled } = await app.accounts.login(request.body, contextOf(request))
    const { required, requiredFrom } = app.config.tfa
    if (tfaEnabled || !required) return app.issueAccessToken({ sub: userId, username, amr })
    if (requiredFrom !== undefined && app.now() < requiredFrom.getTime()) {
      const day = requiredFrom.toISOString().slice(0, 10)
      return { ...app.issueAccessToken({ sub: userId, username, amr }), tfa_reminder: `Two-factor authentication becomes mandatory on ${day}: enable it before then (POST /tfa/enable).` }
    }
    // Seed 003: after the date, a user without TFA "must first enable MFA to gain further access".
    return { ...app.issueAccessToken({ sub: userId, username, amr, scope: ENROLL_SCOPE }), scope: ENROLL_SCOPE, tfa_enrollment_required: true }
  })
}

export default routes
