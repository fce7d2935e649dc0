import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../../schemas/credentials.js'
import { CODE_LOCKED, ENROLMENT_ONLY, errorResponses, UNAUTHENTICATED } from '../../schemas/responses.js'
import { UpdateSettingsBodySchema } from '../../schemas/tfa.js'
import { codeRouteOptions } from '../code-routes.js'
import { contextOf } from '../context.js'

const tags = ['two-factor']

/** Which actions ask for a code again: users choose each protected area on its own. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { codeRoute } = codeRouteOptions(app)

  app.get('/tfa/settings', {
    onRequest: [app.authenticate],
    config: { allowApiKeyToken: true },
    schema: {
      tags,
      operationId: 'getTfaSettings',
      summary: 'Which actions need a code',
      security: BearerSecurity,
      response: { 200: Type.Ref('TfaSettings', { description: 'The settings.' }), ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY }) }
    }
  }, async (request) => await app.tfa.settings(request.user.sub))

  app.put('/tfa/settings', {
    ...codeRoute,
    schema: {
      tags,
      operationId: 'updateTfaSettings',
      summary: 'Choose which actions need a code (with a current code when TFA is on)',
      security: BearerSecurity,
      body: UpdateSettingsBodySchema,
      response: {
        200: Type.Ref('TfaSettings', { description: 'The new settings.' }),
        ...errorResponses({ 400: 'Invalid body, a wrong or missing code (`Invalid token.`), or "login" removed while TFA is mandatory.', ...UNAUTHENTICATED, ...ENROLMENT_ONLY, ...CODE_LOCKED })
      }
    }
  }, async (request) => await app.tfa.updateSettings(request.user.sub, request.body, contextOf(request)))
}

export default routes
