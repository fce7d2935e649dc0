import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SMS_CODE_TTL_SECONDS, SMS_SEND_THROTTLE } from '../auth/sms-codes.js'
import { E164_PATTERN } from '../sms/phone.js'
import { codeRouteOptions, currentUser } from './code-routes.js'
import { contextOf } from './context.js'
import { BearerSecurity, errorResponses, TotpSchema } from '../schemas/common.js'

const CodeSentSchema = Type.Object({
  phone: Type.String({ description: 'The number the code went to, masked (e.g. `+49••••••••89`).' }),
  expires_in: Type.Integer({ description: `Seconds the code stays valid (${SMS_CODE_TTL_SECONDS}).` })
}, { $id: 'SmsCodeSent', additionalProperties: false })

const throttle = `at most one SMS per ${SMS_SEND_THROTTLE.intervalMs / 1000} s and ${SMS_SEND_THROTTLE.max} per hour and user`
const auth = { 401: 'Missing, invalid or expired access token.' }
const smsOff = {
  501: 'SMS is not configured on this server (`SMS_TRANSPORT`).',
  503: 'The SMS gateway did not take the message (retry), or a backing service is unavailable.'
}
const sendLimits = { 429: `Sent too recently (${throttle}), too many requests, or the second factor is locked; see \`Retry-After\`.` }

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { codeRoute, enrolRoute } = codeRouteOptions(app)

  app.post('/tfa/sms/phone', {
    ...enrolRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'startSmsTfa',
      summary: 'Start SMS enrolment: register a phone number and send it a verification code',
      description: 'SMS two-factor authentication is not on until POST /tfa/sms/verify receives the code. Calling again replaces the ' +
        `pending number (${throttle}). One method at a time: with TOTP on, the answer is 409 (disable it first). ` +
        'On an automation account the answer is 409 with the automation warning unless `confirm_automation` is true.',
      security: BearerSecurity,
      body: Type.Object({
        phone: Type.String({ pattern: E164_PATTERN, description: 'E.164: `+`, country code and number, no spaces (e.g. `+4915123456789`).', examples: ['+4915123456789'] }),
        confirm_automation: Type.Optional(Type.Boolean({ description: 'Enable TFA on an automation account anyway.' }))
      }, { additionalProperties: false }),
      response: {
        202: Type.Ref('SmsCodeSent', { description: 'A verification code is on its way.' }),
        ...errorResponses({ 400: 'Invalid body (the number must be E.164).', ...auth, 409: 'A second factor is already on (disable it first), or an automation account without `confirm_automation: true`.', ...sendLimits, ...smsOff })
      }
    }
  }, async (request, reply) => {
    const sent = await app.smsTfa.start(await currentUser(app, request.user.sub), request.body.phone, contextOf(request), { confirmAutomation: request.body.confirm_automation === true })
    return await reply.code(202).send(sent)
  })

  app.post('/tfa/sms/verify', {
    ...enrolRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'verifySmsTfa',
      summary: 'Finish SMS enrolment: the code sent to the number switches SMS two-factor on',
      security: BearerSecurity,
      body: Type.Object({
        code: TotpSchema,
        device_name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A name for the phone, default "unnamed".' }))
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          enabled: Type.Literal(true),
          method: Type.Literal('sms'),
          phone: Type.String({ description: 'The verified number, masked.' }),
          device_name: Type.String(),
          recovery_codes: Type.Array(Type.String(), { minItems: 10, maxItems: 10, description: 'Ten single-use recovery codes, shown only here.' })
        }, { additionalProperties: false, description: 'SMS two-factor authentication is on; show the recovery codes once.' }),
        ...errorResponses({ 400: 'Wrong or expired code (`Invalid token.`); the failure counts towards the lock.', ...auth, 409: 'No number pending (POST /tfa/sms/phone first), or a second factor is already on.', 429: 'The second factor is locked, or too many requests (`Retry-After`).' })
      }
    }
  }, async (request) => await app.smsTfa.verify(request.user.sub, request.body.code, request.body.device_name, contextOf(request)))

  app.post('/tfa/sms/send', {
    ...codeRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'sendSmsCode',
      summary: 'Send an SMS code for a protected action (disable, recovery codes, settings, password change)',
      description: 'Logins need no call here: a login with the right password and no code sends one. ' +
        `Each new code replaces the previous one (${throttle}).`,
      security: BearerSecurity,
      response: {
        202: Type.Ref('SmsCodeSent', { description: 'A code is on its way.' }),
        ...errorResponses({ ...auth, 403: 'An enrolment-only token (mandatory TFA): enable TFA first.', 409: 'SMS two-factor authentication is not enabled.', ...sendLimits, ...smsOff })
      }
    }
  }, async (request, reply) => await reply.code(202).send(await app.smsTfa.sendCode(request.user.sub, contextOf(request))))
}

export { CodeSentSchema }
export default routes
