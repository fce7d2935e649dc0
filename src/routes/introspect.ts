import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { createClientAuthenticator } from '../auth/introspection-clients.js'
import { AppError } from '../errors.js'
import { IntrospectionBodySchema } from '../schemas/token-verification.js'
import { errorResponses } from '../schemas/responses.js'

const FORM = 'application/x-www-form-urlencoded'

/** RFC 6749 §3.2: parameters sent more than once are an error, not a choice. */
function parseForm (body: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const [name, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(fields, name)) throw new AppError('validation')
    fields[name] = value
  }
  return fields
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  // Encapsulated: only this route reads forms; every other one stays JSON only.
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
  const authenticateClient = createClientAuthenticator(app.config.introspection.clients)
  // Before the client is authenticated: a guesser is slowed like any other caller.
  const limit = app.limitBy('introspect-ip', (request) => request.ip, { max: app.config.introspection.max, timeWindow: 60_000 })
  const requireClient = async (request: FastifyRequest) => {
    if (authenticateClient(request.headers.authorization) === undefined) {
      throw new AppError('invalidClient', { headers: { 'www-authenticate': 'Basic realm="twofold introspection", charset="UTF-8"' } })
    }
  }

  app.post('/introspect', {
    onRequest: [limit, requireClient],
    schema: {
      tags: ['token-verification'],
      operationId: 'introspectToken',
      summary: 'Is this access token active right now? (RFC 7662)',
      description: 'For resource servers that must see a logout at once: a signature check alone accepts a token until it ' +
        'expires. Send `token=…` form-encoded (as the RFC says) or as JSON, authenticated with HTTP Basic as one of ' +
        'INTROSPECTION_CLIENTS. Answers `{"active": false}` for anything expired, revoked, malformed or unknown.',
      security: [{ introspectionBasic: [] }],
      consumes: [FORM, 'application/json'],
      body: IntrospectionBodySchema,
      response: {
        200: Type.Ref('IntrospectionResponse', { description: 'The token\'s state and, when active, its claims.' }),
        ...errorResponses({
          400: 'No `token`, or a parameter sent twice.',
          401: 'Missing or wrong client credentials (`WWW-Authenticate: Basic`).',
          429: 'Too many requests from this address (RATE_LIMIT_INTROSPECT_MAX per minute).',
          503: 'Ended sessions cannot be checked right now: retry shortly.'
        })
      }
    }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const claims = app.activeClaims(request.body.token)
    if (claims === undefined) return { active: false }
    const { sub, username, exp, iat, auth_time: authTime, sid, amr, client_id: clientId, scope, iss, aud, jti } = claims
    return { active: true, sub, username, exp, iat, auth_time: authTime, sid, amr, client_id: clientId, scope, token_type: 'Bearer' as const, iss, aud, jti }
  })
}

export default routes
