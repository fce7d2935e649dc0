import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../../schemas/credentials.js'
import { CODE_LOCKED, ENROLMENT_ONLY, errorResponses, UNAUTHENTICATED } from '../../schemas/responses.js'
import { CodeBodySchema, NewRecoveryCodesSchema, RenameBodySchema } from '../../schemas/tfa.js'
import { codeRouteOptions } from '../code-routes.js'
import { contextOf } from '../context.js'

const tags = ['two-factor']

/** The enabled factor's upkeep: its state, its name and fresh recovery codes. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { codeRoute } = codeRouteOptions(app)

  app.get('/tfa', {
    onRequest: [app.authenticate],
    config: { allowEnrollmentToken: true, allowApiKeyToken: true },
    schema: {
      tags,
      operationId: 'getTfaStatus',
      summary: 'Two-factor state of the current user',
      security: BearerSecurity,
      response: { 200: Type.Ref('TfaStatus', { description: 'The current state.' }), ...errorResponses(UNAUTHENTICATED) }
    }
  }, async (request) => await app.tfa.status(request.user.sub))

  app.post('/tfa/recovery-codes', {
    ...codeRoute,
    schema: {
      tags,
      operationId: 'regenerateRecoveryCodes',
      summary: 'Replace all recovery codes (the old ones stop working)',
      security: BearerSecurity,
      body: CodeBodySchema,
      response: {
        200: NewRecoveryCodesSchema,
        ...errorResponses({ 400: 'Wrong code (`Invalid token.`).', ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 409: 'TFA is not enabled.', ...CODE_LOCKED })
      }
    }
  }, async (request) => await app.tfa.regenerateRecoveryCodes(request.user.sub, request.body.totp, contextOf(request)))

  app.patch('/tfa', {
    onRequest: [app.authenticate],
    schema: {
      tags,
      operationId: 'renameTfaDevice',
      summary: 'Rename the authenticator device',
      security: BearerSecurity,
      body: RenameBodySchema,
      response: { 200: Type.Ref('TfaStatus', { description: 'The state with the new name.' }), ...errorResponses({ 400: 'Invalid body.', ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 409: 'TFA is not enabled.' }) }
    }
  }, async (request) => {
    await app.tfa.renameDevice(request.user.sub, request.body.device_name, contextOf(request))
    return await app.tfa.status(request.user.sub)
  })
}

export default routes
