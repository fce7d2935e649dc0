import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

/** Authentication Method Reference values (RFC 8176) this service issues. */
export type Amr = 'pwd' | 'otp' | 'mfa'

export interface AccessTokenClaims {
  sub: string
  amr: Amr[]
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
    issueAccessToken: (claims: AccessTokenClaims) => { access_token: string, token_type: 'Bearer', expires_in: number }
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
    verify: { algorithms: ['HS256'], allowedIss: 'twofold', requiredClaims: ['iss', 'sub', 'exp'] }
  })

  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    try {
      await request.jwtVerify()
    } catch {
      throw new AppError('unauthenticated')
    }
  })

  app.decorate('issueAccessToken', function issueAccessToken (claims: AccessTokenClaims) {
    return { access_token: app.jwt.sign(claims), token_type: 'Bearer' as const, expires_in: jwtTtlSeconds }
  })
}, { name: 'auth', dependencies: ['config'] })
