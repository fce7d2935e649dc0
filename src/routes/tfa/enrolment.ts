import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../../schemas/credentials.js'
import { CODE_LOCKED, ENROLMENT_ONLY, errorResponses, NOT_FOR_API_KEYS, UNAUTHENTICATED } from '../../schemas/responses.js'
import { DisableBodySchema, DisabledSchema, EnableBodySchema, EnabledSchema, PendingSecretSchema, ValidateBodySchema } from '../../schemas/tfa.js'
import { codeRouteOptions } from '../code-routes.js'
import { contextOf } from '../context.js'

const tags = ['two-factor']

/** TOTP enrolment (enable → validate) and switching either method off. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { codeRoute, enrolRoute } = codeRouteOptions(app)

  app.post('/tfa/enable', {
    ...enrolRoute,
    // Most clients send no body at all (it was bodiless before confirm_automation): treat that as {}.
    preValidation: [async (request) => { request.body ??= {} }],
    schema: {
      tags,
      operationId: 'enableTfa',
      summary: 'Start enrolment: a new pending secret, its otpauth URI and QR code',
      description: 'TFA is not on until POST /tfa/validate receives a code from this secret. Calling again replaces the pending secret. ' +
        'On an automation account (`kind: automation`) the answer is 409 with the automation warning, and nothing is enabled, ' +
        'unless the body is `{"confirm_automation": true}`.',
      security: BearerSecurity,
      body: EnableBodySchema,
      'x-optional-body': true,
      response: {
        200: PendingSecretSchema,
        ...errorResponses({ 400: 'Invalid body.', ...UNAUTHENTICATED, ...NOT_FOR_API_KEYS, 404: 'The user no longer exists.', 409: 'TFA is already enabled (with SMS on: disable it first), or an automation account without `confirm_automation: true`.', ...CODE_LOCKED })
      }
    }
  }, async (request) => await app.tfa.enable(request.user.sub, { confirmAutomation: request.body.confirm_automation === true }, contextOf(request)))

  app.post('/tfa/validate', {
    ...enrolRoute,
    schema: {
      tags,
      operationId: 'validateTfa',
      summary: 'Finish enrolment: the first valid code switches TFA on',
      security: BearerSecurity,
      body: ValidateBodySchema,
      response: {
        200: EnabledSchema,
        ...errorResponses({ 400: 'Wrong code (`Invalid token.`): TFA stays off.', ...UNAUTHENTICATED, ...NOT_FOR_API_KEYS, 409: 'Nothing pending (call /tfa/enable first), or TFA is already on.', ...CODE_LOCKED })
      }
    }
  }, async (request) => await app.tfa.validate(request.user.sub, { code: request.body.totp, deviceName: request.body.device_name }, contextOf(request)))

  app.post('/tfa/disable', {
    ...codeRoute,
    schema: {
      tags,
      operationId: 'disableTfa',
      summary: 'Switch TFA off with a current code or a recovery code',
      description: 'Works for both methods: `totp` carries the authenticator code, or with SMS on the code from POST /tfa/sms/send.',
      security: BearerSecurity,
      body: DisableBodySchema,
      response: {
        200: DisabledSchema,
        ...errorResponses({ 400: 'Wrong code (`Invalid token.`): TFA stays on, and the failure counts towards the lock.', ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 409: 'TFA is not enabled.', ...CODE_LOCKED })
      }
    }
  }, async (request) => await app.tfa.disable(request.user.sub, request.body, contextOf(request)))
}

export default routes
