import { HOTP, Secret, TOTP } from 'otpauth'

// RFC 6238 as every mainstream authenticator app implements it.
export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
const ALGORITHM = 'SHA1'

/** 160 random bits (RFC 4226 section 4 recommends 160), base32 without padding. */
export function generateTotpSecret (): string {
  return new Secret({ size: 20 }).base32.replace(/=+$/, '')
}

export function buildOtpauthUrl (secret: string, issuer: string, username: string): string {
  // Built by hand for a stable, documented parameter order; both parts are percent-encoded.
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(username)}`
  const params = `secret=${secret}&issuer=${encodeURIComponent(issuer)}&algorithm=${ALGORITHM}&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SECONDS}`
  return `otpauth://totp/${label}?${params}`
}

/** Six digits: the only shape a TOTP code here has (anything else matches no step). */
export const isTotpCode = (code: string) => /^[0-9]{6}$/.test(code)

export const timeStep = (timestampMs: number) => Math.floor(timestampMs / 1000 / TOTP_PERIOD_SECONDS)

/**
 * Returns the time step the code belongs to, or null when it matches no step within `window`
 * steps of `timestampMs`. Whether that step was already used is the store's business.
 */
export function matchTotpStep (secret: string, code: string, timestampMs: number, window: number): number | null {
  if (!isTotpCode(code)) return null
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(secret),
    algorithm: ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: timestampMs,
    window
  })
  return delta === null ? null : timeStep(timestampMs) + delta
}

export function generateTotpCode (secret: string, timestampMs: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: ALGORITHM, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, timestamp: timestampMs })
}

/** The codes of steps `from` to `to` (inclusive), in order: a login receipt keeps their keyed hashes. */
export function totpCodes (secret: string, from: number, to: number): Array<[step: number, code: string]> {
  const key = Secret.fromBase32(secret)
  const codes: Array<[number, string]> = []
  for (let step = from; step <= to; step++) codes.push([step, HOTP.generate({ secret: key, algorithm: ALGORITHM, digits: TOTP_DIGITS, counter: step })])
  return codes
}
