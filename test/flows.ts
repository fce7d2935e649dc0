// What a client does, through the API: register, log in, enrol a second factor, send codes, and
// the response bodies tests compare byte for byte. The apps, configs and databases these run
// against come from ./helper.ts.
import { randomBytes, randomInt } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../src/app.js'
import { generateTotpCode, matchTotpStep, TOTP_PERIOD_SECONDS } from '../src/auth/totp.js'
import { errorBody, ErrorCatalogue } from '../src/errors.js'
import type { TestClock } from './helper.js'
import type { SmsReceiver } from './sms-receiver.js'

/** The body every client of the replaced API matches on, byte for byte (seed 004). */
export const TFA_REQUIRED_BODY = '{"error":{"message":"Additional authentications steps required.","code":401,"identity":null,"title":"Unauthorized"}}'
/** Bodies the tests compare byte for byte. */
export const INVALID_CREDENTIALS_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.invalidCredentials.message))
export const TFA_LOCKED_BODY = JSON.stringify(errorBody(429, ErrorCatalogue.tfaLocked.message))
export const INVALID_TOKEN_BODY = JSON.stringify(errorBody(400, ErrorCatalogue.invalidToken.message))
export const UNAVAILABLE_BODY = JSON.stringify(errorBody(503, ErrorCatalogue.unavailable.message))
export const UNAUTHENTICATED_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.unauthenticated.message))

/** One TOTP step. */
export const STEP_MS = TOTP_PERIOD_SECONDS * 1000
/** The shortest time between two SMS to one user. */
const SMS_INTERVAL_MS = 60_000
/** The password the flows below give a user unless told otherwise. */
export const DEFAULT_PASSWORD = 'correct horse battery'

export const randomUsername = () => `u${randomBytes(5).toString('hex')}`

/** A random valid E.164 number (a German mobile range). */
export const randomPhone = () => `+49151${String(randomInt(0, 100_000_000)).padStart(8, '0')}`

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** POST /users; the user as registered, with the password. Throws unless 201. */
export async function register (app: App, username: string, password: string) {
  const res = await app.inject({ method: 'POST', url: '/users', payload: { username, password } })
  if (res.statusCode !== 201) throw new Error(`register ${username}: ${res.statusCode} ${res.body}`)
  return { ...res.json() as { id: string, username: string }, password }
}

/** POST /login, whatever the answer. */
export async function login (app: App, body: Record<string, string | boolean>): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/login', payload: body })
}

/** POST /login/tfa (the second step, with the receipt of the 401), whatever the answer. */
export async function loginWithReceipt (app: App, body: Record<string, string | boolean>): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/login/tfa', payload: body })
}

/** The `X-TFA-Receipt` of a 401; throws when there is none. */
export function receiptOf (res: LightMyRequestResponse): string {
  const receipt = res.headers['x-tfa-receipt']
  if (typeof receipt !== 'string') throw new Error(`no receipt: ${res.statusCode} ${res.body}`)
  return receipt
}

/** The body of a receipt that can no longer be used. */
export const RECEIPT_INVALID_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.loginReceiptInvalid.message))

/** POST /login; the access token, or throws unless 200. */
export async function loginToken (app: App, body: Record<string, string | boolean>): Promise<string> {
  const res = await login(app, body)
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  return (res.json() as { access_token: string }).access_token
}

export interface UserOptions {
  /** A random one unless given. */
  username?: string
  /** DEFAULT_PASSWORD unless given. */
  password?: string
}

/** A registered user without a second factor, logged in (amr pwd). */
export async function plainUser (app: App, { username = randomUsername(), password = DEFAULT_PASSWORD }: UserOptions = {}) {
  const user = await register(app, username, password)
  return { ...user, token: await loginToken(app, { username, password }) }
}

/**
 * Registers a user and switches TOTP two-factor on through the API (/tfa/enable, /tfa/validate).
 * `token` is the password-only token from before. By default the clock then moves one step on,
 * so the next code the test generates is not the (already used) activating one; with
 * `advance: false` it stays, so a test can try to replay `validatingCode`.
 */
export async function createTfaUser (app: App, clock: TestClock, { advance = true, ...options }: UserOptions & { advance?: boolean } = {}) {
  const { token, ...user } = await plainUser(app, options)
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  if (enable.statusCode !== 200) throw new Error(`enable: ${enable.statusCode} ${enable.body}`)
  const enabled = enable.json() as { secret: string, otpauth_url: string, qr_code: string }
  const validatingCode = generateTotpCode(enabled.secret, clock.now())
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: validatingCode } })
  if (validate.statusCode !== 200) throw new Error(`validate: ${validate.statusCode} ${validate.body}`)
  if (advance) clock.advance(STEP_MS)
  const { recovery_codes: recoveryCodes } = validate.json() as { recovery_codes: string[] }
  return { ...user, token, ...enabled, validatingCode, recoveryCodes, code: () => generateTotpCode(enabled.secret, clock.now()) }
}

export type TfaUser = Awaited<ReturnType<typeof createTfaUser>>

/**
 * Registers a user and switches SMS two-factor on through the API (/tfa/sms/phone, the code the
 * receiver got, /tfa/sms/verify). By default the clock then moves past the one-a-minute send
 * interval, so the next login sends a code at once.
 */
export async function enrolSms (app: App, clock: TestClock, receiver: SmsReceiver, { advance = true, phone = randomPhone(), ...options }: UserOptions & { phone?: string, advance?: boolean } = {}) {
  const { token, ...user } = await plainUser(app, options)
  const start = await app.inject({ method: 'POST', url: '/tfa/sms/phone', headers: bearer(token), payload: { phone } })
  if (start.statusCode !== 202) throw new Error(`sms/phone: ${start.statusCode} ${start.body}`)
  const verifyCode = receiver.lastCode(phone)
  const verify = await app.inject({ method: 'POST', url: '/tfa/sms/verify', headers: bearer(token), payload: { code: verifyCode } })
  if (verify.statusCode !== 200) throw new Error(`sms/verify: ${verify.statusCode} ${verify.body}`)
  if (advance) clock.advance(SMS_INTERVAL_MS)
  return { ...user, token, phone, verifyCode, recoveryCodes: (verify.json() as { recovery_codes: string[] }).recovery_codes }
}

/**
 * A six-digit code that matches no step within `window` (+1 for margin) of `nowMs`: a guaranteed
 * wrong code, never a lucky right one.
 */
export function wrongCode (secret: string, nowMs: number, window = 1): string {
  for (let i = 0; ; i++) {
    const candidate = String((Number.parseInt(generateTotpCode(secret, nowMs), 10) + 1 + i * 7919) % 1_000_000).padStart(6, '0')
    if (matchTotpStep(secret, candidate, nowMs, window + 1) === null) return candidate
  }
}

/** An access token's claims, read without verification (the app signed it). */
export function decodeClaims<T = Record<string, unknown>> (token: string): T {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as T
}

/** An access token's header (alg, typ, kid), read without verification. */
export function decodeHeader (token: string): { alg: string, typ: string, kid: string } {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg: string, typ: string, kid: string }
}

/** The `amr` claim of an access token, read without verification (the app signed it). */
export function amrOf (_app: App, res: LightMyRequestResponse): unknown {
  const { access_token: token } = res.json() as { access_token: string }
  return decodeClaims<{ amr?: unknown }>(token).amr
}

/** Status codes of a batch of responses, counted. */
export function countStatuses (responses: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const res of responses) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1
  return counts
}
