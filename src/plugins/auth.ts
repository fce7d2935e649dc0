import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { createAccessTokens, jwtRegistrations, type AccessTokens, type VerifiedClaims } from '../auth/access-tokens.js'
import { ENROLL_SCOPE, type GrantExtras, type TokenGrant } from '../auth/tokens.js'
import { AppError } from '../errors.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: VerifiedClaims
    /** The verified claims of the Bearer token, set by `authenticate`. */
    user: VerifiedClaims
    /** One registration per key, under its kid (see jwtRegistrations): `app.jwt[kid]`. */
    namespaces: string
  }
}

export interface TokenResponse extends GrantExtras {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>
    /** Signs and verifies access tokens; publishes the public keys (JWKS). */
    accessTokens: AccessTokens
    /**
     * The claims of a token twofold issued, not expired, whose session or API key is not ended;
     * undefined otherwise. Throws `revocationsUnavailable` (503) when ended sessions can't be
     * checked. Authenticating routes and introspection both ask this.
     */
    activeClaims: (token: string) => VerifiedClaims | undefined
    /** The one issuing path: every token the service hands out is signed here. */
    issueToken: (grant: TokenGrant) => TokenResponse
  }
  interface FastifyContextConfig {
    /** Routes an enrolment-only token may call (see ENROLL_SCOPE). */
    allowEnrollmentToken?: boolean
    /**
     * Routes a token from an API key may call. Least privilege: a script's token reads its own
     * account; changing credentials, factors, keys or sessions takes a login.
     */
    allowApiKeyToken?: boolean
  }
}

export default fp(async function authPlugin (app) {
  const { jwtTtlSeconds } = app.config
  const { revocations } = app
  // @fastify/jwt once per key; it also decorates request.user.
  for (const options of jwtRegistrations(app.config.jwt)) await app.register(fastifyJwt, options)
  const accessTokens = createAccessTokens(app.config.jwt, app.jwt)
  app.decorate('accessTokens', accessTokens)
  // Which key signs is what an operator checks during a rotation (README "Rotating the signing key").
  app.log.info({ algorithm: accessTokens.algorithm, kid: accessTokens.kid, alsoAccepted: app.config.jwt.verificationKeys.map(k => k.kid) }, 'access tokens: signing key')
  if (app.config.jwt.issuerWarning !== undefined) app.log.warn(app.config.jwt.issuerWarning)

  // A client sends the same token with every call, so verified tokens are remembered by their
  // exact text (signature included: two tokens can't share a key) until they expire: GET /me
  // then costs no signature check (README "Performance"). fast-jwt's own cache is off: it keys
  // by a SHA hash of the token, which cost a quarter of GET /me's throughput.
  const isUuid = (value: unknown) => typeof value === 'string' && UUID.test(value)
  const verified = new LRUCache<string, VerifiedClaims>({ max: 10_000 })
  function verifyToken (token: string): VerifiedClaims {
    const hit = verified.get(token)
    // The same clock as the verifier's own exp check.
    if (hit !== undefined && hit.exp * 1000 > Date.now()) return hit
    const claims = accessTokens.verify(token)
    // Ids reach the database as UUIDs: a validly signed token whose ids are not (another
    // service's tokens under a shared secret, a bug) is refused here, not with a 500 there.
    if (!isUuid(claims.sub) || (claims.sid !== undefined && !isUuid(claims.sid)) || (claims.akid !== undefined && !isUuid(claims.akid))) throw new AppError('unauthenticated')
    verified.set(token, claims)
    return claims
  }

  /** Throws for a token that is not ours or not valid now, and when ended sessions can't be checked. */
  function claimsOf (token: string): VerifiedClaims | undefined {
    let claims: VerifiedClaims
    try {
      claims = verifyToken(token)
    } catch {
      return undefined
    }
    // From memory, no I/O: the list is fed by every instance. Without its feed it may be stale,
    // and a stale list would let an ended session in.
    if (!revocations.healthy) throw new AppError('revocationsUnavailable', { retryAfterSeconds: 1 })
    const { sid, akid } = claims
    if ((sid !== undefined && revocations.isRevoked(sid)) || (akid !== undefined && revocations.isRevoked(akid))) return undefined
    return claims
  }
  app.decorate('activeClaims', claimsOf)

  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const header = request.headers.authorization
    const space = header?.indexOf(' ') ?? -1
    if (header === undefined || space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') throw new AppError('unauthenticated')
    const claims = claimsOf(header.slice(space + 1).trim())
    if (claims === undefined) throw new AppError('unauthenticated')
    request.user = claims
    const route = request.routeOptions.config
    if (claims.scope === ENROLL_SCOPE && route.allowEnrollmentToken !== true) throw new AppError('enrollmentRequired')
    if (claims.amr.includes('api_key') && route.allowApiKeyToken !== true) throw new AppError('apiKeyTokenRefused')
  })

  app.decorate('issueToken', function issueToken ({ claims, maxTtlSeconds, extras }: TokenGrant): TokenResponse {
    const ttl = Math.min(jwtTtlSeconds, maxTtlSeconds ?? jwtTtlSeconds)
    return { access_token: accessTokens.sign(claims, ttl), token_type: 'Bearer', expires_in: ttl, ...extras }
  })
}, { name: 'auth', dependencies: ['config', 'revocations'] })
