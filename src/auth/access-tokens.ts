import { randomUUID } from 'node:crypto'
import type { JwtConfig } from '../config/jwt-config.js'
import type { PublicJwk, VerificationKey } from '../config/jwt-keys.js'
import { createSignature, decodePart, encodePart, verifySignature } from './jws.js'
import { TWOFOLD_CLIENT_ID, type AccessTokenClaims } from './tokens.js'

/** What a verified access token says (RFC 9068 §2.2 plus twofold's own claims). */
export interface VerifiedClaims extends AccessTokenClaims {
  iss: string
  aud: string | string[]
  iat: number
  exp: number
  jti: string
  client_id: string
}

/** RFC 9068 §4: the header's typ, with or without the "application/" prefix, in any case. */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt'])

/** Why a token was refused; never shown to a client (every refusal is the same 401). */
export class TokenRefused extends Error {
  override name = 'TokenRefused'
}

const nowSeconds = () => Math.floor(Date.now() / 1000)
const isString = (v: unknown): v is string => typeof v === 'string' && v !== ''
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v)

/**
 * Access tokens in the RFC 9068 profile: signed with the one signing key, verified with it and
 * the configured verification keys (rotation), each key pinned to its own algorithm.
 */
export function createAccessTokens (jwt: JwtConfig) {
  const { signingKey, issuer, audiences } = jwt
  if (signingKey === undefined) throw new Error('the JWT signing key must be resolved before buildApp (see resolveLocalSecrets)')
  const keys = new Map<string, VerificationKey>([[signingKey.kid, signingKey.verify], ...jwt.verificationKeys.map(k => [k.kid, k] as const)])
  const audience = audiences.length === 1 ? audiences[0]! : audiences
  const header = encodePart({ alg: signingKey.alg, typ: 'at+jwt', kid: signingKey.kid })
  const jwks = { keys: [...keys.values()].flatMap(k => k.jwk === undefined ? [] : [k.jwk]) }

  function sign (claims: AccessTokenClaims, ttlSeconds: number, issuedAt = nowSeconds()): string {
    const payload = { ...claims, iss: issuer, aud: audience, iat: issuedAt, exp: issuedAt + ttlSeconds, jti: randomUUID(), client_id: claims.client_id ?? TWOFOLD_CLIENT_ID }
    const input = `${header}.${encodePart(payload)}`
    return `${input}.${createSignature(signingKey!.alg, signingKey!.privateKey, input).toString('base64url')}`
  }

  /** The claims of a token twofold issued and that has not expired; throws TokenRefused otherwise. */
  function verify (token: string): VerifiedClaims {
    const parts = token.split('.')
    if (parts.length !== 3) throw new TokenRefused('not a JWS in compact form')
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string]
    const head = parse(headerPart) as { alg?: unknown, typ?: unknown, kid?: unknown, crit?: unknown }
    // The key decides the algorithm, never the token ("none", HS/ES confusion).
    const key = isString(head.kid) ? keys.get(head.kid) : undefined
    if (key === undefined) throw new TokenRefused('unknown kid')
    if (head.alg !== key.alg) throw new TokenRefused('algorithm does not fit the key')
    if (typeof head.typ !== 'string' || !ACCESS_TOKEN_TYPES.has(head.typ.toLowerCase())) throw new TokenRefused('not an access token (typ)')
    if (head.crit !== undefined) throw new TokenRefused('critical header parameters are not understood')
    if (!/^[A-Za-z0-9_-]+$/.test(signaturePart)) throw new TokenRefused('signature is not base64url')
    if (!verifySignature(key.alg, key.key, `${headerPart}.${payloadPart}`, Buffer.from(signaturePart, 'base64url'))) throw new TokenRefused('bad signature')
    return checkClaims(parse(payloadPart))
  }

  function checkClaims (payload: unknown): VerifiedClaims {
    const claims = payload as Partial<VerifiedClaims>
    if (claims.iss !== issuer) throw new TokenRefused('another issuer')
    const aud = claims.aud
    if (!(typeof aud === 'string' ? audiences.includes(aud) : Array.isArray(aud) && aud.some(a => audiences.includes(a)))) throw new TokenRefused('not for this audience')
    const now = nowSeconds()
    if (!isInteger(claims.exp) || claims.exp <= now) throw new TokenRefused('expired or without exp')
    if (!isInteger(claims.iat) || claims.iat > now + 60) throw new TokenRefused('without iat, or issued in the future')
    if (!isString(claims.sub) || !isString(claims.jti) || !isString(claims.client_id) || !isString(claims.username) || !Array.isArray(claims.amr)) {
      throw new TokenRefused('a required claim is missing')
    }
    // Every token twofold issues belongs to a session or to an API key: that is what revokes it.
    if (!isString(claims.sid) && !isString(claims.akid)) throw new TokenRefused('neither a session nor an API key')
    return claims as VerifiedClaims
  }

  return { sign, verify, jwks, kid: signingKey.kid, algorithm: signingKey.alg }
}

function parse (part: string): Record<string, unknown> {
  let value: unknown
  try {
    value = decodePart(part)
  } catch {
    throw new TokenRefused('not base64url JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenRefused('not a JSON object')
  return value as Record<string, unknown>
}

export type AccessTokens = ReturnType<typeof createAccessTokens>
export type { PublicJwk }
