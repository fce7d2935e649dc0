import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../src/app.js'
import { generateTotpCode, matchTotpStep, TOTP_PERIOD_SECONDS } from '../src/auth/totp.js'
import { errorBody, ErrorCatalogue } from '../src/errors.js'
import { bearer, loginToken, register, type TestClock } from './helper.js'

/** Bodies the tests compare byte for byte. */
export const INVALID_CREDENTIALS_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.invalidCredentials.message))
export const TFA_LOCKED_BODY = JSON.stringify(errorBody(429, ErrorCatalogue.tfaLocked.message))
export const INVALID_TOKEN_BODY = JSON.stringify(errorBody(400, ErrorCatalogue.invalidToken.message))
export const UNAVAILABLE_BODY = JSON.stringify(errorBody(503, ErrorCatalogue.unavailable.message))
export const UNAUTHENTICATED_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.unauthenticated.message))

export const STEP_MS = TOTP_PERIOD_SECONDS * 1000

export const randomUsername = () => `u${randomBytes(5).toString('hex')}`

export async function login (app: App, body: Record<string, string>): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/login', payload: body })
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

/** The `amr` claim of an access token, read without verification (the app signed it). */
export function amrOf (app: App, res: LightMyRequestResponse): unknown {
  const { access_token: token } = res.json() as { access_token: string }
  return (app.jwt.decode(token) as { amr?: unknown } | null)?.amr
}

/**
 * Registers a user and enrols TFA through the API WITHOUT moving the clock afterwards (unlike
 * createTfaUser): the activating code is returned so a test can try to replay it.
 */
export async function enrolWithoutAdvance (app: App, clock: TestClock, username = randomUsername(), password = 'correct horse battery') {
  const user = await register(app, username, password)
  const token = await loginToken(app, { username, password })
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  if (enable.statusCode !== 200) throw new Error(`enable: ${enable.statusCode} ${enable.body}`)
  const enabled = enable.json() as { secret: string, otpauth_url: string, qr_code: string }
  const validatingCode = generateTotpCode(enabled.secret, clock.now())
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: validatingCode } })
  if (validate.statusCode !== 200) throw new Error(`validate: ${validate.statusCode} ${validate.body}`)
  const { recovery_codes: recoveryCodes } = validate.json() as { recovery_codes: string[] }
  return { ...user, password, token, ...enabled, validatingCode, recoveryCodes, code: () => generateTotpCode(enabled.secret, clock.now()) }
}

/** Status codes of a batch of responses, counted. */
export function countStatuses (responses: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const res of responses) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1
  return counts
}

/** Environment for two apps that must behave as one deployment (same secrets, same prefix). */
export function sharedEnv (databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: `test:${randomBytes(6).toString('hex')}:`,
    JWT_SECRET: randomBytes(32).toString('base64'),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // Two cores give a default of 8 waiting hashes; concurrency tests need every request to race.
    MAX_PENDING_HASHES: '200',
    ...extra
  }
}
