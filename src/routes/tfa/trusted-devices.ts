import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../../schemas/credentials.js'
import { IdParamsSchema } from '../../schemas/params.js'
import { ENROLMENT_ONLY, errorResponses, UNAUTHENTICATED } from '../../schemas/responses.js'
import { contextOf } from '../context.js'

const tags = ['tfa']

/** "Remember this device": the devices that skip the code, and ending one of them. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/tfa/trusted-devices', {
    onRequest: [app.authenticate],
    schema: {
      tags,
      operationId: 'listTrustedDevices',
      summary: 'The current user\'s trusted devices ("remember this device"), newest first',
      description: 'Devices that log in with the password alone until they expire. All of them end when TFA is disabled, reset or enrolled again, and when the password changes.',
      security: BearerSecurity,
      response: { 200: Type.Ref('TrustedDeviceList', { description: 'The devices still trusted.' }), ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY }) }
    }
  }, async (request) => await app.trustedDevices.list(request.user.sub))

  app.delete('/tfa/trusted-devices/:id', {
    onRequest: [app.authenticate],
    schema: {
      tags,
      operationId: 'revokeTrustedDevice',
      summary: 'Stop trusting one device: its next login needs the code again',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: {
        204: Type.Null({ description: 'No longer trusted.' }),
        ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 404: 'No such trusted device among the current user\'s (another user\'s id gets the same answer).' })
      }
    }
  }, async (request, reply) => {
    await app.trustedDevices.revoke(request.user.sub, request.params.id, contextOf(request))
    return reply.code(204).send(null)
  })
}

export default routes
