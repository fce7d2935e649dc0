import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../errors.js'
import { BearerSecurity } from '../schemas/credentials.js'
import { IdParamsSchema } from '../schemas/params.js'
import { ENROLMENT_ONLY, errorResponses, UNAUTHENTICATED } from '../schemas/responses.js'
import { BrowserSessionHeadersSchema, RefreshBodySchema } from '../schemas/sessions.js'
import { contextOf } from './context.js'

const tags = ['sessions']

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { loginMax, loginWindowMs } = app.config.rateLimit

  app.post('/token/refresh', {
    // Per client IP, like the other credential routes: a refresh token is 256 bits, but each try costs a lookup.
    onRequest: [app.limitBy('refresh-ip', (request) => request.ip, { max: loginMax, timeWindow: loginWindowMs })],
    schema: {
      tags: ['authentication'],
      operationId: 'refreshToken',
      headers: BrowserSessionHeadersSchema,
      summary: 'Exchange a refresh token for a new access token and a new refresh token',
      description: 'The refresh token is single use: the answer carries its successor, and the old one stops working. ' +
        'Presented again after that, it counts as stolen and ends the whole session, unless it comes back within 10 seconds ' +
        'of its rotation (two tabs refreshing at once both get a working token). The new access token keeps the login\'s ' +
        '`amr` and `auth_time`: refreshing is not logging in again. Unknown, expired, revoked and reused tokens all get the same 401.',
      body: RefreshBodySchema,
      response: {
        200: Type.Ref('TokenResponse', { description: 'The same shape as POST /login: a new access token and the next refresh token.' }),
        ...errorResponses({
          400: 'Invalid body.',
          401: 'Unknown, expired, revoked or already used refresh token (`Invalid or expired refresh token: log in again.`).',
          429: 'Too many requests from this client (`Retry-After`).',
          503: 'A backing service is unavailable.'
        })
      }
    }
  }, async (request) => await app.sessions.refresh(request.body.refresh_token, contextOf(request)))

  app.post('/logout', {
    onRequest: [app.authenticate],
    // A key's token is let through to be told it has no session (400), not just "forbidden".
    config: { allowEnrollmentToken: true, allowApiKeyToken: true },
    schema: {
      tags,
      operationId: 'logout',
      headers: BrowserSessionHeadersSchema,
      summary: 'End the current session',
      description: 'Its refresh token stops working, and so does every access token of the session, on every instance, within about a second.',
      security: BearerSecurity,
      response: {
        204: Type.Null({ description: 'Ended (also when it had ended already).' }),
        ...errorResponses({ 400: 'A token from an API key: it has no session (revoke the key instead).', ...UNAUTHENTICATED })
      }
    }
  }, async (request, reply) => {
    const { sub, sid } = request.user
    if (sid === undefined) throw new AppError('noSession')
    await app.sessions.end(sub, sid, 'logout', contextOf(request))
    return reply.code(204).send(null)
  })

  app.get('/sessions', {
    onRequest: [app.authenticate],
    schema: {
      tags,
      operationId: 'listSessions',
      summary: 'The current user\'s live sessions, newest first',
      security: BearerSecurity,
      response: { 200: Type.Ref('SessionList', { description: 'The sessions; `current` marks this one.' }), ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY }) }
    }
  }, async (request) => await app.sessions.list(request.user.sub, request.user.sid))

  app.delete('/sessions/:id', {
    onRequest: [app.authenticate],
    schema: {
      tags,
      operationId: 'endSession',
      summary: 'End one of the current user\'s sessions (e.g. a lost laptop)',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: {
        204: Type.Null({ description: 'Ended.' }),
        ...errorResponses({ 400: 'Invalid id.', ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 404: 'No such live session among the current user\'s (another user\'s id gets the same answer).' })
      }
    }
  }, async (request, reply) => {
    if (!await app.sessions.end(request.user.sub, request.params.id, 'user', contextOf(request))) throw new AppError('sessionNotFound')
    return reply.code(204).send(null)
  })

  app.delete('/sessions', {
    onRequest: [app.authenticate],
    schema: {
      tags,
      operationId: 'endOtherSessions',
      summary: 'Sign out everywhere else: end every session but the current one',
      security: BearerSecurity,
      response: { 204: Type.Null({ description: 'Every other session ended.' }), ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY }) }
    }
  }, async (request, reply) => {
    await app.sessions.endAll(request.user.sub, { except: request.user.sid, reason: 'user' }, contextOf(request))
    return reply.code(204).send(null)
  })
}

export default routes
