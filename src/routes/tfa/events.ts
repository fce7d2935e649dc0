import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../../schemas/credentials.js'
import { EventQuerySchema } from '../../schemas/events.js'
import { ENROLMENT_ONLY, errorResponses, UNAUTHENTICATED } from '../../schemas/responses.js'

/** What happened to the account (logins, codes, changes), for its owner to check. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/tfa/events', {
    onRequest: [app.authenticate],
    config: { allowApiKeyToken: true },
    schema: {
      tags: ['two-factor'],
      operationId: 'listOwnSecurityEvents',
      summary: 'The security events of the current user, newest first',
      security: BearerSecurity,
      querystring: EventQuerySchema,
      response: { 200: Type.Ref('EventPage', { description: 'One page of events.' }), ...errorResponses({ 400: 'Invalid query.', ...UNAUTHENTICATED, ...ENROLMENT_ONLY }) }
    }
  }, async (request) => await app.audit.list(request.user.sub, request.query))
}

export default routes
