import { randomUUID, type KeyObject } from 'node:crypto'
import type { FastifyJWTOptions, JWT } from '@fastify/jwt'
import type { JwtConfig } from '../config/jwt-config.js'
import type { PublicJwk, SigningKey, VerificationKey } from '../config/jwt-keys.js'
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

/** Why a token was refused; never shown to a client (every refusal is the same 401). */
export class TokenRefused extends Error {
  override name = 'TokenRefused'
}

const nowSeconds = () => Math.floor(Date.now() / 1000)
const isString = (v: unknown): v is string => typeof v === 'string' && v !== ''
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v)

// fast-jwt checks that these are present, and the types and values of iss, aud and exp; the
// types of the others are checked after it (checkClaims).
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'client_id', 'username', 'amr']

function requireSigningKey (jwt: JwtConfig): SigningKey {
  if (jwt.signingKey === undefined) throw new Error('the JWT signing key must be resolved before buildApp (see resolveLocalSecrets)')
  return jwt.signingKey
}

/** fast-jwt takes keys as text (PEM) or, for HMAC, the secret's bytes; it builds its key object once per signer/verifier. */
function keyText (key: KeyObject): string | Buffer {
  if (key.type === 'secret') return key.export()
  return key.type === 'private' ? key.export({ type: 'pkcs8', format: 'pem' }).toString() : key.export({ type: 'spki', format: 'pem' }).toString()
}

/**
 * The @fastify/jwt registrations, one per key, each under its kid as namespace (the plugin's way
 * to hold several keys): the signing key's signs and verifies, the others (rotation) only verify.
 * Everything is fixed here, at boot, so signing and verifying use the plugin's global signer and
 * verifiers: options given per call would make it build a new fast-jwt signer or verifier, and
 * parse the key again, every time.
 */
export function jwtRegistrations (jwt: JwtConfig): FastifyJWTOptions[] {
  const signingKey = requireSigningKey(jwt)
  const { issuer, audiences } = jwt
  const verify = (key: VerificationKey): FastifyJWTOptions['verify'] => ({
    // The key decides the algorithm, never the token ("none", HS/ES confusion).
    algorithms: [key.alg],
    allowedIss: issuer,
    // One of the configured audiences is enough.
    allowedAud: audiences,
    // RFC 9068 §4: fast-jwt compares it case-insensitively, without the "application/" prefix.
    checkTyp: 'at+jwt',
    requiredClaims: REQUIRED_CLAIMS,
    // The auth plugin keeps its own cache by the token's exact text (README "Performance").
    cache: false
  })
  return [
    {
      namespace: signingKey.kid,
      secret: { private: keyText(signingKey.privateKey), public: keyText(signingKey.verify.key) },
      // No expiresIn: every token carries its own iat and exp (an API key's lives shorter).
      sign: { algorithm: signingKey.alg, kid: signingKey.kid, header: { alg: signingKey.alg, typ: 'at+jwt' } },
      verify: verify(signingKey.verify),
      // Reads the header's kid to choose the verifier.
      decode: { complete: true }
    },
    ...jwt.verificationKeys.map(key => ({ namespace: key.kid, secret: { public: keyText(key.key) }, verify: verify(key) }))
  ]
}

/**
 * Access tokens in the RFC 9068 profile: signed with the one signing key, verified with it and
 * the configured verification keys (rotation), each key pinned to its own algorithm. `namespaces`
 * is `app.jwt` after the registrations of `jwtRegistrations(jwt)`.
 */
export function createAccessTokens (jwt: JwtConfig, namespaces: Record<string, JWT>) {
  const signingKey = requireSigningKey(jwt)
  const { issuer, audiences } = jwt
  const keys = [signingKey.verify, ...jwt.verificationKeys]
  const namespaceOf = (kid: string) => {
    const namespace = namespaces[kid]
    if (namespace === undefined) throw new Error(`@fastify/jwt is not registered for the key "${kid}" (see jwtRegistrations)`)
    return namespace
  }
  const signer = namespaceOf(signingKey.kid)
  const verifiers = new Map(keys.map(k => [k.kid, namespaceOf(k.kid)]))
  const audience = audiences.length === 1 ? audiences[0]! : audiences
  const jwks = { keys: keys.flatMap(k => k.jwk === undefined ? [] : [k.jwk]) }

  function sign (claims: AccessTokenClaims, ttlSeconds: number, issuedAt = nowSeconds()): string {
    return signer.sign({ ...claims, iss: issuer, aud: audience, iat: issuedAt, exp: issuedAt + ttlSeconds, jti: randomUUID(), client_id: claims.client_id ?? TWOFOLD_CLIENT_ID })
  }

  /** The claims of a token twofold issued and that has not expired; throws TokenRefused otherwise. */
  function verify (token: string): VerifiedClaims {
    let payload: unknown
    try {
      const header = signer.decode<{ header: { kid?: unknown, crit?: unknown } }>(token)?.header
      // An unknown kid is refused before any crypto runs.
      const verifier = isString(header?.kid) ? verifiers.get(header.kid) : undefined
      if (verifier === undefined) throw new TokenRefused('unknown kid')
      // twofold defines no extension; fast-jwt would let a crit of null or false through.
      if (header!.crit !== undefined) throw new TokenRefused('critical header parameters are not understood')
      payload = verifier.verify(token)
    } catch (err) {
      if (err instanceof TokenRefused) throw err
      throw new TokenRefused((err as Error).message, { cause: err })
    }
    return checkClaims(payload)
  }

  /** What fast-jwt does not check: the types of twofold's claims, iat, and what revokes the token. */
  function checkClaims (payload: unknown): VerifiedClaims {
    const claims = payload as Partial<VerifiedClaims>
    if (!isInteger(claims.exp)) throw new TokenRefused('exp is not an integer')
    if (!isInteger(claims.iat) || claims.iat > nowSeconds() + 60) throw new TokenRefused('without iat, or issued in the future')
    if (!isString(claims.sub) || !isString(claims.jti) || !isString(claims.client_id) || !isString(claims.username) || !Array.isArray(claims.amr)) {
      throw new TokenRefused('a required claim is missing')
    }
    // Every token twofold issues belongs to a session or to an API key: that is what revokes it.
    if (!isString(claims.sid) && !isString(claims.akid)) throw new TokenRefused('neither a session nor an API key')
    return claims as VerifiedClaims
  }

  return { sign, verify, jwks, kid: signingKey.kid, algorithm: signingKey.alg }
}

export type AccessTokens = ReturnType<typeof createAccessTokens>
export type { PublicJwk }
