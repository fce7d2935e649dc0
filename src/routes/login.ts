import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { normalizeUsername } from '../auth/users.js'
import { BrowserSessionHeadersSchema } from '../schemas/sessions.js'
import { LoginBodySchema, LoginUnauthorizedResponse, ReceiptLoginBodySchema, ReceiptUnauthorizedResponse } from '../schemas/login.js'
import { errorResponses } from '../schemas/responses.js'
import type { LimitHook } from '../plugins/rate-limit.js'
import { inOneWrite } from '../store/redis-client.js'
import { contextOf } from './context.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { loginMax, loginWindowMs } = app.config.rateLimit
  // Per client IP and per username, so a botnet spreading guesses over many addresses still
  // meets a limit on each account.
  const limitPerIp = app.limitBy('login-ip', (request) => request.ip, { max: loginMax, timeWindow: loginWindowMs })
  const limitPerUsername = app.limitBy('login-user',
    (request) => normalizeUsername((request.body as { username: string }).username),
    { max: loginMax, timeWindow: loginWindowMs })
  // A client with a device cookie for this username (it logged in as it before) has a small bucket
  // of its own and is neither counted in nor refused by the username's: a flood of guesses on a
  // username then locks out only the clients that never logged in as it (OWASP's device cookies).
  const knownDevices = new WeakMap<object, string>()
  const limitPerDevice = app.limitBy('login-device', (request) => knownDevices.get(request) ?? '',
    { max: app.config.deviceCookies.loginMax, timeWindow: loginWindowMs })
  // The address and the account are counted in one round of Redis calls once the body is read;
  // before it, an address already known to be over is refused from memory (limitPerIp.known).
  const limitPerIpAndUsername = app.limitTogether(limitPerIp, limitPerUsername)
  const limitPerIpAndDevice = app.limitTogether(limitPerIp, limitPerDevice)
  const limitPerIpAndAccount: LimitHook = (request, reply, done) => {
    const body = request.body as { username: string, device_cookie?: string }
    const username = normalizeUsername(body.username)
    const device = app.deviceCookies.verify(body.device_cookie, username)
    if (device === null) return limitPerIpAndUsername(request, reply, done)
    knownDevices.set(request, device.deviceId)
    limitPerIpAndDevice(request, reply, done)
  }

  app.post('/login', {
    onRequest: [app.shedWhenBusy, limitPerIp.known, app.admitToHash],
    preHandler: [limitPerIpAndAccount],
    schema: {
      tags: ['authentication'],
      operationId: 'login',
      headers: BrowserSessionHeadersSchema,
      summary: 'Log in with a password, and a one-time code when two-factor authentication is on',
      description: [
        'With two-factor authentication (TFA) on, the 6-digit code is taken from `totp` when given; otherwise, when the ',
        'password field ends in six digits, those are the code ("type the code directly after your password"). ',
        'A password that itself ends in six digits still works, with or without a code appended. ',
        'A recovery code in `recovery_code` replaces the TOTP code, once per code. Fields a user without TFA ',
        'does not need are ignored. With SMS as the method, the right password without a code sends a code by SMS ',
        '(at most one a minute) and answers the same 401. Every 401 after a right password carries `X-TFA-Receipt`: send it ',
        'with the code to POST /login/tfa instead of the password again. With `device_token` (from an earlier login with ',
        '`remember_device: true`) the right password alone logs in on that device: `amr` is then `["pwd"]` with ',
        '`remembered_device: true` (not `mfa`: admin routes still want a code), and the response carries the rotated `device_token`. ',
        'Every login answers a `device_cookie` (also set as the HttpOnly `twofold_device` cookie): a later login as the same username ',
        'that carries it is limited per device instead of sharing the username\'s limit, so guesses on the username from elsewhere ',
        'can\'t lock this client out. It skips neither the password nor the code.'
      ].join(''),
      body: LoginBodySchema,
      response: {
        200: Type.Ref('TokenResponse', { description: 'Logged in: an access token, and a session with its `refresh_token` (see POST /token/refresh). `amr` in the token: `["pwd"]`, `["pwd","otp","mfa"]` with a TOTP code, `["pwd","sms","mfa"]` with an SMS code, `["pwd","mfa"]` with a recovery code. With mandatory TFA, a user without it gets `tfa_reminder` before `TFA_REQUIRED_FROM` and an enrolment-only token (`tfa_enrollment_required: true`) after.' }),
        ...errorResponses({
          400: 'Invalid body.',
          429: 'Too many attempts from this client, for this username, or from this known device (`device_cookie`) (`Retry-After`), or the second factor is locked after repeated wrong codes (`Retry-After`, even with a right code).',
          503: 'Overloaded (too many password verifications waiting), a backing service is down, or the SMS gateway did not take the code; retry after `Retry-After`.'
        }),
        401: LoginUnauthorizedResponse
      }
    }
  }, async (request, reply) => {
    const ctx = contextOf(request)
    return await app.accounts.login(request.body, ctx)
  })

  // The second step's per-user limit needs the receipt's owner, looked up once and kept here.
  const owners = new WeakMap<object, string>()
  const limitReceiptPerUser = app.limitBy('login-tfa-user', (request) => owners.get(request) ?? '', { max: loginMax, timeWindow: loginWindowMs })

  const limitIpAndUser = app.limitTogether(limitPerIp, limitReceiptPerUser)
  // A receipt that opens to no user is refused, after its address is counted (guessing
  // receipts costs an address its limit like guessing passwords). One that opens is counted in
  // the handler, in the same Redis write as its code (loginWithReceipt); an address or a user
  // already known to be over is refused here, from memory.
  const ownerOrRefusal: LimitHook = (request, reply, done) => {
    let owner: string
    try {
      owner = app.accounts.receiptOwner((request.body as { receipt: string }).receipt)
    } catch (err) {
      limitPerIp(request, reply, (limitErr) => { done(limitErr ?? err as Error) })
      return
    }
    owners.set(request, owner)
    limitIpAndUser.known(request, reply, done)
  }

  app.post('/login/tfa', {
    // No hash slot to guard here, so the per-IP count can wait for the body and go to Redis
    // with the per-user one and the code; an address known to be over is refused at once.
    onRequest: [limitPerIp.known],
    preHandler: [ownerOrRefusal],
    schema: {
      tags: ['authentication'],
      operationId: 'loginWithReceipt',
      headers: BrowserSessionHeadersSchema,
      summary: 'Complete a two-factor login with the receipt of its 401 and the code, without the password again',
      description: [
        'The second step of a two-step login form: POST /login with the password answered 401 with `X-TFA-Receipt`; send that ',
        'receipt with the code in `totp` (with SMS: the code sent at the first step) or a recovery code in `recovery_code`. ',
        'The answer is the one of POST /login. A receipt is single use once a code succeeds, takes at most 5 codes (each wrong ',
        'one also counts toward the lock, as at POST /login), lives 5 minutes, and ends with a lock, a TFA reset or disable ',
        'and a password change. No bcrypt runs here: the password was checked at the first step.'
      ].join(''),
      body: ReceiptLoginBodySchema,
      response: {
        200: Type.Ref('TokenResponse', { description: 'Logged in, as by POST /login: `amr` `["pwd","otp","mfa"]`, `["pwd","sms","mfa"]` or `["pwd","mfa"]` (recovery code).' }),
        ...errorResponses({
          400: 'Invalid body.',
          429: 'Too many attempts from this client or for this user (`Retry-After`): a TOTP code sent is taken as an attempt all the same (a right one spends the receipt); or the second factor is locked after repeated wrong codes (`Retry-After`).',
          503: 'A backing service is down; retry after `Retry-After`.'
        }),
        401: ReceiptUnauthorizedResponse
      }
    }
  }, async (request, reply) => {
    const ctx = contextOf(request)
    const owner = owners.get(request) ?? ''
    // The limits' counts and the code's store step leave in one write: one round trip, not two.
    return await inOneWrite(app.redis, () => app.accounts.loginWithReceipt(owner, request.body, ctx, limitIpAndUser.count(request)))
  })
}

export default routes
