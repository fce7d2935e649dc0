import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { hasTfaOn } from '../auth/factors.js'
import { AppError } from '../errors.js'

/** Authentication Method Reference values (RFC 8176) this service issues; 'api_key' (not in RFC 8176) marks a token from POST /token. */
export type Amr = 'pwd' | 'otp' | 'sms' | 'mfa' | 'api_key'

/** A token that only lets its holder enrol in TFA (mandatory TFA, past the grace period). */
export const ENROLL_SCOPE = 'tfa:enroll'

export interface AccessTokenClaims {
  sub: string
  username: string
  amr: Amr[]
  scope?: typeof ENROLL_SCOPE
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims
    user: AccessTokenClaims & { iat: number, exp: number }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>
    requireAdmin: (request: FastifyRequest) => Promise<void>
    issueAccessToken: (claims: AccessTokenClaims) => { access_token: string, token_type: 'Bearer', expires_in: number }
  }
  interface FastifyContextConfig {
    /** Routes an enrolment-only token may call (see ENROLL_SCOPE). */
    allowEnrollmentToken?: boolean
  }
}

export default fp(async function authPlugin (app) {
  const { jwtSecret, jwtTtlSeconds } = app.config
  if (jwtSecret === undefined) throw new Error('jwtSecret must be resolved before buildApp (see resolveLocalSecrets)')
  await app.register(fastifyJwt, {
    secret: jwtSecret,
    // Pinned both ways: a token can never choose its own algorithm ("none", RS/HS confusion).
    sign: { algorithm: 'HS256', expiresIn: jwtTtlSeconds, iss: 'twofold' },
    // allowedIss only checks an iss that is present, and exp only one that is: require both.
    // A client sends the same token with every call: verified tokens are cached until they expire
    // (fast-jwt checks exp and nbf on every hit), keyed by their exact text (signature included).
    // The default key is a SHA-512 of the token, which for HS256 costs as much as the HMAC it saves.
    verify: { algorithms: ['HS256'], allowedIss: 'twofold', requiredClaims: ['iss', 'sub', 'exp', 'username'], cache: 10_000, cacheKeyBuilder: (token: string) => token }
  })

  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const header = request.headers.authorization
    const space = header?.indexOf(' ') ?? -1
    if (header === undefined || space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') throw new AppError('unauthenticated')
    try {
      // The verifier built once from the options above: request.jwtVerify() would merge options
      // and decode the token again on every request.
      request.user = app.jwt.verify<FastifyRequest['user']>(header.slice(space + 1).trim())
    } catch {
      throw new AppError('unauthenticated')
    }
    if (request.user.scope === ENROLL_SCOPE && request.routeOptions.config.allowEnrollmentToken !== true) {
      throw new AppError('enrollmentRequired')
    }
  })

  // Role from the database, not the token: a demoted admin loses access at once.
  app.decorate('requireAdmin', async function requireAdmin (request: FastifyRequest) {
    await app.authenticate(request)
    const user = await app.prisma.user.findUnique({
      where: { id: request.user.sub },
      select: { role: true, twoFactor: { select: { enabledAt: true } } }
    })
    if (user?.role !== 'admin') throw new AppError('adminRequired')
    if (hasTfaOn(user) && !request.user.amr.includes('mfa')) throw new AppError('adminMfaRequired')
  })

  app.decorate('issueAccessToken', function issueAccessToken (claims: AccessTokenClaims) {
    return { access_token: app.jwt.sign(claims), token_type: 'Bearer' as const, expires_in: jwtTtlSeconds }
  })
}, { name: 'auth', dependencies: ['config', 'prisma'] })
