import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../../schemas/credentials.js'
import { ENROLMENT_ONLY, errorResponses, NOT_FOR_API_KEYS, UNAUTHENTICATED } from '../../schemas/responses.js'
import { SMS_SEND_LIMITS, SMS_THROTTLE_TEXT, SMS_UNAVAILABLE, SmsEnabledSchema, StartSmsBodySchema, VerifySmsBodySchema } from '../../schemas/sms.js'
import { codeRouteOptions } from '../code-routes.js'
import { contextOf } from '../context.js'

const tags = ['two-factor']

/** SMS as the second factor: enrol a number, and ask for a code before a protected action. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { codeRoute, enrolRoute } = codeRouteOptions(app)

  app.post('/tfa/sms/phone', {
    ...enrolRoute,
    schema: {
      tags,
      operationId: 'startSmsTfa',
      summary: 'Start SMS enrolment: register a phone number and send it a verification code',
      description: 'SMS two-factor authentication is not on until POST /tfa/sms/verify receives the code. Calling again replaces the ' +
        `pending number (${SMS_THROTTLE_TEXT}). One method at a time: with TOTP on, the answer is 409 (disable it first). ` +
        'On an automation account the answer is 409 with the automation warning unless `confirm_automation` is true.',
      security: BearerSecurity,
      body: StartSmsBodySchema,
      response: {
        202: Type.Ref('SmsCodeSent', { description: 'A verification code is on its way.' }),
        ...errorResponses({ 400: 'Invalid body (the number must be E.164), or SMS is not offered to this number\'s country (`SMS_ALLOWED_COUNTRIES`).', ...UNAUTHENTICATED, ...NOT_FOR_API_KEYS, 409: 'A second factor is already on (disable it first), or an automation account without `confirm_automation: true`.', ...SMS_SEND_LIMITS, ...SMS_UNAVAILABLE })
      }
    }
  }, async (request, reply) => {
    const sent = await app.smsTfa.start(request.user.sub, { phone: request.body.phone, confirmAutomation: request.body.confirm_automation === true }, contextOf(request))
    return await reply.code(202).send(sent)
  })

  app.post('/tfa/sms/verify', {
    ...enrolRoute,
    schema: {
      tags,
      operationId: 'verifySmsTfa',
      summary: 'Finish SMS enrolment: the code sent to the number switches SMS two-factor on',
      security: BearerSecurity,
      body: VerifySmsBodySchema,
      response: {
        200: SmsEnabledSchema,
        ...errorResponses({ 400: 'Wrong or expired code (`Invalid token.`); the failure counts towards the lock.', ...UNAUTHENTICATED, ...NOT_FOR_API_KEYS, 409: 'No number pending (POST /tfa/sms/phone first), or a second factor is already on.', 429: 'The second factor is locked, or too many requests (`Retry-After`).' })
      }
    }
  }, async (request) => await app.smsTfa.verify(request.user.sub, { code: request.body.code, deviceName: request.body.device_name }, contextOf(request)))

  app.post('/tfa/sms/send', {
    ...codeRoute,
    schema: {
      tags,
      operationId: 'sendSmsCode',
      summary: 'Send an SMS code for a protected action (disable, recovery codes, settings, password change)',
      description: 'Logins need no call here: a login with the right password and no code sends one. ' +
        `Each new code replaces the previous one (${SMS_THROTTLE_TEXT}).`,
      security: BearerSecurity,
      response: {
        202: Type.Ref('SmsCodeSent', { description: 'A code is on its way.' }),
        ...errorResponses({ ...UNAUTHENTICATED, ...ENROLMENT_ONLY, 409: 'SMS two-factor authentication is not enabled.', ...SMS_SEND_LIMITS, ...SMS_UNAVAILABLE })
      }
    }
  }, async (request, reply) => await reply.code(202).send(await app.smsTfa.sendCode(request.user.sub, contextOf(request))))
}

export default routes
