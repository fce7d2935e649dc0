import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listEvents } from '../auth/events.js'
import { PROTECTED_ACTIONS } from '../auth/protected-actions.js'
import { EventQuerySchema } from '../schemas/events.js'
import { codeRouteOptions, currentUser } from './code-routes.js'
import { contextOf, integerQuery } from './context.js'
import { BearerSecurity, errorResponses, RecoveryCodeSchema, TotpSchema } from '../schemas/common.js'

const RecoveryCodesSchema = Type.Array(Type.String(), {
  minItems: 10,
  maxItems: 10,
  description: 'Ten single-use recovery codes. Shown only in this response: ask the user to store them safely.'
})

const TfaStatusSchema = Type.Object({
  enabled: Type.Boolean(),
  method: Type.Union([Type.Literal('totp'), Type.Literal('sms'), Type.Null()], { description: 'The second factor in use: an authenticator app (`totp`) or `sms`; null when off.' }),
  phone: Type.Union([Type.String(), Type.Null()], { description: 'With SMS on: the verified number, masked (e.g. `+49••••••••89`).' }),
  pending: Type.Boolean({ description: 'A secret from /tfa/enable awaits its first code.' }),
  device_name: Type.Union([Type.String(), Type.Null()]),
  recovery_codes_left: Type.Integer()
}, { $id: 'TfaStatus', additionalProperties: false })

const auth = { 401: 'Missing, invalid or expired access token.' }
const enrolOnly = { 403: 'An enrolment-only token (mandatory TFA): enable TFA first.' }
const ProtectedActionsSchema = Type.Array(Type.Union(PROTECTED_ACTIONS.map(a => Type.Literal(a))), {
  uniqueItems: true,
  description: 'Actions that need a code when TFA is on. Default: ["login", "password_change"].'
})
const TfaSettingsSchema = Type.Object({
  protected_actions: ProtectedActionsSchema,
  always_protected: Type.Array(Type.String(), { description: 'Actions that always need a code: disabling TFA, regenerating recovery codes, changing these settings.' })
}, { $id: 'TfaSettings', additionalProperties: false })
const locked = { 429: 'Too many requests, or the second factor is locked after repeated wrong codes (`Retry-After`).' }

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { codeRoute, enrolRoute } = codeRouteOptions(app)

  app.post('/tfa/enable', {
    ...enrolRoute,
    // Most clients send no body at all (it was bodiless before confirm_automation): treat that as {}.
    preValidation: [async (request) => { request.body ??= {} }],
    schema: {
      tags: ['two-factor'],
      operationId: 'enableTfa',
      summary: 'Start enrolment: a new pending secret, its otpauth URI and QR code',
      description: 'TFA is not on until POST /tfa/validate receives a code from this secret. Calling again replaces the pending secret. ' +
        'On an automation account (`kind: automation`) the answer is 409 with the automation warning, and nothing is enabled, ' +
        'unless the body is `{"confirm_automation": true}`.',
      security: BearerSecurity,
      body: Type.Object({
        confirm_automation: Type.Optional(Type.Boolean({ description: 'Enable TFA on an automation account anyway.' }))
      }, { additionalProperties: false, description: 'Optional: no body is the same as `{}`.' }),
      'x-optional-body': true,
      response: {
        200: Type.Object({
          secret: Type.String({ description: 'Base32 secret (160 bits) for manual entry ("unable to scan?").' }),
          otpauth_url: Type.String({ description: 'otpauth://totp/<issuer>:<username>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30' }),
          qr_code: Type.String({ description: 'data:image/png;base64,… PNG QR code of `otpauth_url`.' }),
          warning: Type.String({ description: 'TFA also applies to API logins: do not enable it on accounts used by automation.' })
        }, { additionalProperties: false, description: 'A pending secret: show the QR code (and the secret for manual entry), then ask for a code.' }),
        ...errorResponses({ 400: 'Invalid body.', ...auth, 404: 'The user no longer exists.', 409: 'TFA is already enabled (with SMS on: disable it first), or an automation account without `confirm_automation: true`.', ...locked })
      }
    }
  }, async (request) => await app.tfa.enable(await currentUser(app, request.user.sub), contextOf(request), { confirmAutomation: request.body.confirm_automation === true }))

  app.post('/tfa/validate', {
    ...enrolRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'validateTfa',
      summary: 'Finish enrolment: the first valid code switches TFA on',
      security: BearerSecurity,
      body: Type.Object({
        totp: TotpSchema,
        device_name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A name for the authenticator, default "unnamed".' }))
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({ enabled: Type.Literal(true), device_name: Type.String(), recovery_codes: RecoveryCodesSchema }, { additionalProperties: false, description: 'TFA is on; show the recovery codes once.' }),
        ...errorResponses({ 400: 'Wrong code (`Invalid token.`): TFA stays off.', ...auth, 409: 'Nothing pending (call /tfa/enable first), or TFA is already on.', ...locked })
      }
    }
  }, async (request) => await app.tfa.validate(request.user.sub, request.body.totp, request.body.device_name, contextOf(request)))

  app.post('/tfa/disable', {
    ...codeRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'disableTfa',
      summary: 'Switch TFA off with a current code or a recovery code',
      description: 'Works for both methods: `totp` carries the authenticator code, or with SMS on the code from POST /tfa/sms/send.',
      security: BearerSecurity,
      body: Type.Union([
        Type.Object({ totp: TotpSchema }, { additionalProperties: false }),
        Type.Object({ recovery_code: RecoveryCodeSchema }, { additionalProperties: false })
      ]),
      response: {
        200: Type.Object({ enabled: Type.Literal(false) }, { additionalProperties: false, description: 'TFA is off; its secret and recovery codes are deleted.' }),
        ...errorResponses({ 400: 'Wrong code (`Invalid token.`): TFA stays on, and the failure counts towards the lock.', ...auth, ...enrolOnly, 409: 'TFA is not enabled.', ...locked })
      }
    }
  }, async (request) => await app.tfa.disable(request.user.sub, request.body, contextOf(request)))

  app.get('/tfa', {
    onRequest: [app.authenticate],
    config: { allowEnrollmentToken: true },
    schema: {
      tags: ['two-factor'],
      operationId: 'getTfaStatus',
      summary: 'Two-factor state of the current user',
      security: BearerSecurity,
      response: { 200: Type.Ref('TfaStatus', { description: 'The current state.' }), ...errorResponses(auth) }
    }
  }, async (request) => await app.tfa.status(request.user.sub))

  app.post('/tfa/recovery-codes', {
    ...codeRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'regenerateRecoveryCodes',
      summary: 'Replace all recovery codes (the old ones stop working)',
      security: BearerSecurity,
      body: Type.Object({ totp: TotpSchema }, { additionalProperties: false }),
      response: {
        200: Type.Object({ recovery_codes: RecoveryCodesSchema }, { additionalProperties: false, description: 'New codes; the old ones no longer work.' }),
        ...errorResponses({ 400: 'Wrong code (`Invalid token.`).', ...auth, ...enrolOnly, 409: 'TFA is not enabled.', ...locked })
      }
    }
  }, async (request) => await app.tfa.regenerateRecoveryCodes(request.user.sub, request.body.totp, contextOf(request)))

  app.patch('/tfa', {
    onRequest: [app.authenticate],
    schema: {
      tags: ['two-factor'],
      operationId: 'renameTfaDevice',
      summary: 'Rename the authenticator device',
      security: BearerSecurity,
      body: Type.Object({ device_name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      response: { 200: Type.Ref('TfaStatus', { description: 'The state with the new name.' }), ...errorResponses({ 400: 'Invalid body.', ...auth, ...enrolOnly, 409: 'TFA is not enabled.' }) }
    }
  }, async (request) => {
    await app.tfa.renameDevice(request.user.sub, request.body.device_name, contextOf(request))
    return await app.tfa.status(request.user.sub)
  })

  app.get('/tfa/settings', {
    onRequest: [app.authenticate],
    schema: {
      tags: ['two-factor'],
      operationId: 'getTfaSettings',
      summary: 'Which actions need a code',
      security: BearerSecurity,
      response: { 200: Type.Ref('TfaSettings', { description: 'The settings.' }), ...errorResponses({ ...auth, ...enrolOnly }) }
    }
  }, async (request) => await app.tfa.settings(request.user.sub))

  app.put('/tfa/settings', {
    ...codeRoute,
    schema: {
      tags: ['two-factor'],
      operationId: 'updateTfaSettings',
      summary: 'Choose which actions need a code (with a current code when TFA is on)',
      security: BearerSecurity,
      body: Type.Object({ protected_actions: ProtectedActionsSchema, totp: Type.Optional(TotpSchema) }, { additionalProperties: false }),
      response: {
        200: Type.Ref('TfaSettings', { description: 'The new settings.' }),
        ...errorResponses({ 400: 'Invalid body, a wrong or missing code (`Invalid token.`), or "login" removed while TFA is mandatory.', ...auth, ...enrolOnly, ...locked })
      }
    }
  }, async (request) => await app.tfa.updateSettings(request.user.sub, request.body, contextOf(request)))

  app.get('/tfa/events', {
    onRequest: [app.authenticate],
    preValidation: [integerQuery('limit')],
    schema: {
      tags: ['two-factor'],
      operationId: 'listOwnSecurityEvents',
      summary: 'The security events of the current user, newest first',
      security: BearerSecurity,
      querystring: EventQuerySchema,
      response: { 200: Type.Ref('EventPage', { description: 'One page of events.' }), ...errorResponses({ 400: 'Invalid query.', ...auth, ...enrolOnly }) }
    }
  }, async (request) => await listEvents(app.prisma, app.audit, request.user.sub, request.query))
}

export { TfaStatusSchema, TfaSettingsSchema }
export default routes
