import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { ENROLL_SCOPE, type AccessTokenClaims, type GrantExtras, type TokenGrant } from '../auth/tokens.js'
import { AppError } from '../errors.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims
    user: AccessTokenClaims & { iat: number, exp: number }
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
  const { jwtSecret, jwtTtlSeconds } = app.config
  const { revocations } = app
  if (jwtSecret === undefined) throw new Error('jwtSecret must be resolved before buildApp (see resolveLocalSecrets)')
  await app.register(fastifyJwt, {
    secret: jwtSecret,
    // Pinned both ways: a token can never choose its own algorithm ("none", RS/HS confusion).
    sign: { algorithm: 'HS256', expiresIn: jwtTtlSeconds, iss: 'twofold' },
    // allowedIss only checks an iss that is present, and exp only one that is: require both.
    verify: { algorithms: ['HS256'], allowedIss: 'twofold', requiredClaims: ['iss', 'sub', 'exp', 'username'] }
  })

  // A client sends the same token with every call, so verified tokens are remembered by their
  // exact text (signature included: two tokens can't share a key) until they expire. fast-jwt's
  // own cache keys by a SHA hash of the token, which cost a quarter of GET /me's throughput
  // (README "Performance"), and warns at every boot when given any other key.
  const isUuid = (value: unknown) => typeof value === 'string' && UUID.test(value)
  const verified = new LRUCache<string, FastifyRequest['user']>({ max: 10_000 })
  function verifyToken (token: string): FastifyRequest['user'] {
    const hit = verified.get(token)
    // The same clock as the verifier's own exp check.
    if (hit !== undefined && hit.exp * 1000 > Date.now()) return hit
    // The verifier built once from the options above: request.jwtVerify() would merge options
    // and decode the token again on every request.
    const claims = app.jwt.verify<FastifyRequest['user']>(token)
    // Ids reach the database as UUIDs: a validly signed token whose ids are not (another
    // service's tokens under a shared secret, a bug) is refused here, not with a 500 there.
    if (!isUuid(claims.sub) || (claims.sid !== undefined && !isUuid(claims.sid)) || (claims.akid !== undefined && !isUuid(claims.akid))) throw new AppError('unauthenticated')
    verified.set(token, claims)
    return claims
  }

  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const header = request.headers.authorization
    const space = header?.indexOf(' ') ?? -1
    if (header === undefined || space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') throw new AppError('unauthenticated')
    try {
      request.user = verifyToken(header.slice(space + 1).trim())
    } catch {
      throw new AppError('unauthenticated')
    }
    // From memory, no I/O: the list is fed by every instance. Without its feed it may be stale,
    // and a stale list would let an ended session in.
    if (!revocations.healthy) throw new AppError('revocationsUnavailable', { retryAfterSeconds: 1 })
    const { sid, akid } = request.user
    if ((sid !== undefined && revocations.isRevoked(sid)) || (akid !== undefined && revocations.isRevoked(akid))) throw new AppError('unauthenticated')
    const route = request.routeOptions.config
    if (request.user.scope === ENROLL_SCOPE && route.allowEnrollmentToken !== true) throw new AppError('enrollmentRequired')
    if (request.user.amr.includes('api_key') && route.allowApiKeyToken !== true) throw new AppError('apiKeyTokenRefused')
  })

  app.decorate('issueToken', function issueToken ({ claims, maxTtlSeconds, extras }: TokenGrant): TokenResponse {
    const ttl = Math.min(jwtTtlSeconds, maxTtlSeconds ?? jwtTtlSeconds)
    const signed = { ...claims, jti: randomUUID() }
    const accessToken = ttl === jwtTtlSeconds ? app.jwt.sign(signed) : app.jwt.sign(signed, { expiresIn: ttl })
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, ...extras }
  })
}, { name: 'auth', dependencies: ['config', 'revocations'] })
