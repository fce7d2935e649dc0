import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listEvents } from '../auth/events.js'
import { BearerSecurity, errorResponses, UserKindSchema } from '../schemas/common.js'
import { EventQuerySchema } from '../schemas/events.js'
import { contextOf, integerQuery } from './context.js'

export const AdminUserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  kind: UserKindSchema,
  created_at: Type.String({ format: 'date-time' }),
  tfa: Type.Object({
    enabled: Type.Boolean(),
    pending: Type.Boolean(),
    enabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    devices: Type.Array(Type.Object({ name: Type.String(), type: Type.Union([Type.Literal('totp'), Type.Literal('sms')]) }, { additionalProperties: false })),
    recovery_codes_left: Type.Integer(),
    protected_actions: Type.Array(Type.String()),
    locked: Type.Boolean({ description: 'The second factor is locked after repeated wrong codes.' }),
    locked_for_seconds: Type.Integer(),
    failures: Type.Integer({ description: 'Wrong codes in a row so far.' })
  }, { additionalProperties: false })
}, { $id: 'AdminUser', additionalProperties: false })

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) })
const adminErrors = {
  401: 'Missing, invalid or expired access token.',
  403: 'Not an administrator, or an administrator with TFA whose token did not pass it.'
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const guard = { onRequest: [app.requireAdmin] }
  const limitQuery = { preValidation: [integerQuery('limit')] }

  app.get('/admin/users', {
    ...guard,
    ...limitQuery,
    schema: {
      tags: ['admin'],
      operationId: 'adminFindUsers',
      summary: 'Find users by exact username or prefix',
      security: BearerSecurity,
      querystring: Type.Object({
        username: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 }))
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ users: Type.Array(Type.Ref('AdminUser')) }, { description: 'Matching users.' }), ...errorResponses({ 400: 'Invalid query.', ...adminErrors }) }
    }
  }, async (request) => await app.admin.findUsers(request.query))

  app.get('/admin/users/:id', {
    ...guard,
    schema: {
      tags: ['admin'],
      operationId: 'adminGetUser',
      summary: 'A user with TFA state, lock state and devices',
      security: BearerSecurity,
      params: Params,
      response: { 200: Type.Ref('AdminUser', { description: 'The user.' }), ...errorResponses({ 400: 'Invalid id.', ...adminErrors, 404: 'No user with this id.' }) }
    }
  }, async (request) => await app.admin.getUser(request.params.id))

  app.patch('/admin/users/:id', {
    ...guard,
    schema: {
      tags: ['admin'],
      operationId: 'adminUpdateUser',
      summary: 'Change a user\'s kind (human or automation)',
      security: BearerSecurity,
      params: Params,
      body: Type.Object({ kind: UserKindSchema }, { additionalProperties: false }),
      response: { 200: Type.Ref('AdminUser', { description: 'The user after the change.' }), ...errorResponses({ 400: 'Invalid id or body.', ...adminErrors, 404: 'No user with this id.' }) }
    }
  }, async (request) => await app.admin.setKind(request.params.id, request.body.kind, request.user.sub, contextOf(request)))

  app.post('/admin/users/:id/tfa/reset', {
    ...guard,
    schema: {
      tags: ['admin'],
      operationId: 'adminResetTfa',
      summary: 'Remove a user\'s TFA (lost or stolen phone)',
      description: 'Deletes the secret, any pending secret, recovery codes, failure count, lock and used-code records: the old phone\'s codes stop working at once. The user can log in with the password and enrol again.',
      security: BearerSecurity,
      params: Params,
      response: { 200: Type.Ref('AdminUser', { description: 'The user after the reset.' }), ...errorResponses({ 400: 'Invalid id.', ...adminErrors, 404: 'No user with this id.' }) }
    }
  }, async (request) => await app.admin.resetTfa(request.params.id, request.user.sub, contextOf(request)))

  app.post('/admin/users/:id/tfa/unlock', {
    ...guard,
    schema: {
      tags: ['admin'],
      operationId: 'adminUnlockTfa',
      summary: 'Clear a user\'s failure count and lock',
      security: BearerSecurity,
      params: Params,
      response: { 200: Type.Ref('AdminUser', { description: 'The user after the unlock.' }), ...errorResponses({ 400: 'Invalid id.', ...adminErrors, 404: 'No user with this id.' }) }
    }
  }, async (request) => await app.admin.unlockTfa(request.params.id, request.user.sub, contextOf(request)))

  app.get('/admin/users/:id/events', {
    ...guard,
    ...limitQuery,
    schema: {
      tags: ['admin'],
      operationId: 'adminListUserEvents',
      summary: 'A user\'s security events, newest first',
      security: BearerSecurity,
      params: Params,
      querystring: EventQuerySchema,
      response: { 200: Type.Ref('EventPage', { description: 'One page of events.' }), ...errorResponses({ 400: 'Invalid id or query.', ...adminErrors, 404: 'No user with this id.' }) }
    }
  }, async (request) => {
    await app.admin.getUser(request.params.id)
    return await listEvents(app.prisma, app.audit, request.params.id, request.query)
  })
}

export default routes
