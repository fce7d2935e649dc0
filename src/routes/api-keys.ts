import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../errors.js'
import { CreateApiKeyBodySchema, CreatedApiKeySchema } from '../schemas/api-keys.js'
import { ApiKeySecurity, BearerSecurity } from '../schemas/credentials.js'
import { IdParamsSchema } from '../schemas/params.js'
import { ENROLMENT_ONLY, errorResponses, UNAUTHENTICATED } from '../schemas/responses.js'
import { contextOf } from './context.js'

const API_KEY_HEADER = /^ApiKey +(\S+)$/i

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { tfaMax, loginMax, loginWindowMs } = app.config.rateLimit
  const perUser = app.limitBy('api-keys-user', (request) => request.user.sub, { max: tfaMax, timeWindow: loginWindowMs })

  app.post('/api-keys', {
    onRequest: [app.authenticate],
    // Let through so the service answers why: a key never makes another key (apiKeyFromApiKey).
    config: { allowApiKeyToken: true },
    preHandler: [perUser],
    schema: {
      tags: ['api-keys'],
      operationId: 'createApiKey',
      summary: 'Create an API key for scripts (the key is shown only in this response)',
      description: 'Exchange the key at POST /token for a short access token. With TFA on, the access token used here must ' +
        'come from a login with a code (`amr` includes `mfa`); a token obtained with an API key can never create keys.',
      security: BearerSecurity,
      body: CreateApiKeyBodySchema,
      response: {
        201: CreatedApiKeySchema,
        ...errorResponses({
          400: 'Invalid body, or `expires_at` not in the future.',
          ...UNAUTHENTICATED,
          403: 'TFA is on and the token did not pass it; a token from an API key; or an enrolment-only token.',
          404: 'The user no longer exists.',
          429: 'Too many requests.'
        })
      }
    }
  }, async (request, reply) => {
    await app.apiKeys.assertMayCreate(request.user.sub, request.user.amr)
    return reply.code(201).send(await app.apiKeys.create(request.user.sub, request.body, contextOf(request)))
  })

  app.get('/api-keys', {
    onRequest: [app.authenticate],
    config: { allowApiKeyToken: true },
    schema: {
      tags: ['api-keys'],
      operationId: 'listApiKeys',
      summary: 'The current user\'s API keys, newest first (never the keys themselves)',
      security: BearerSecurity,
      response: { 200: Type.Object({ api_keys: Type.Array(Type.Ref('ApiKeySummary')) }, { additionalProperties: false, description: 'The keys.' }), ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY }) }
    }
  }, async (request) => await app.apiKeys.list(request.user.sub))

  app.delete('/api-keys/:id', {
    onRequest: [app.authenticate],
    schema: {
      tags: ['api-keys'],
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key at once',
      description: 'The key stops working immediately, and so do the access tokens already obtained with it, on every instance within about a second.',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses({ 400: 'Invalid id.', ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 404: 'No such key among the current user\'s keys.' }) }
    }
  }, async (request, reply) => {
    await app.apiKeys.revoke(request.user.sub, request.params.id, contextOf(request))
    return reply.code(204).send(null)
  })

  app.post('/token', {
    // Per client IP, before anything is read: key guessing is hopeless (256 bits), but each try costs a lookup.
    config: { rateLimit: { max: loginMax, timeWindow: loginWindowMs, keyGenerator: (request) => `token-ip:${request.ip}` } },
    schema: {
      tags: ['authentication'],
      operationId: 'exchangeApiKey',
      summary: 'Exchange an API key for a short-lived access token',
      description: 'Send `Authorization: ApiKey twofold_ak_…`, no body. No second-factor code is asked, even when TFA is on for ' +
        'the account: the key is the credential for scripts. The token has `amr: ["api_key"]` and lives at most 15 minutes ' +
        '(JWT_TTL_SECONDS when shorter). Unknown, revoked and expired keys all get the same 401.',
      security: ApiKeySecurity,
      response: {
        200: Type.Ref('TokenResponse', { description: 'An access token for the key\'s owner.' }),
        ...errorResponses({ 401: 'Missing, unknown, revoked or expired API key (`Invalid API key.`).', 429: 'Too many requests from this client.', 503: 'A backing service is down.' })
      }
    }
  }, async (request) => {
    const key = API_KEY_HEADER.exec(request.headers.authorization ?? '')?.[1]
    if (key === undefined) throw new AppError('invalidApiKey')
    return app.issueToken(await app.apiKeys.exchange(key, contextOf(request)))
  })
}

export default routes
