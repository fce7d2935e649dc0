import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { ADMIN_ERRORS, FindUsersQuerySchema, KindBodySchema } from '../schemas/admin.js'
import { BearerSecurity } from '../schemas/credentials.js'
import { EventQuerySchema } from '../schemas/events.js'
import { IdParamsSchema } from '../schemas/params.js'
import { errorResponses } from '../schemas/responses.js'
import { contextOf } from './context.js'

const tags = ['admin']
const notFound = { 404: 'No user with this id.' }

/** The support desk's routes: one child plugin whose every route passes the admin guard first. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async function requireAdmin (request: FastifyRequest) {
    await app.authenticate(request)
    await app.users.assertAdmin(request.user.sub, request.user.amr)
  })

  app.get('/users', {
    schema: {
      tags,
      operationId: 'adminFindUsers',
      summary: 'Find users by exact username or prefix',
      security: BearerSecurity,
      querystring: FindUsersQuerySchema,
      response: { 200: Type.Object({ users: Type.Array(Type.Ref('AdminUser')) }, { description: 'Matching users.' }), ...errorResponses({ 400: 'Invalid query.', ...ADMIN_ERRORS }) }
    }
  }, async (request) => await app.admin.findUsers(request.query))

  app.get('/users/:id', {
    schema: {
      tags,
      operationId: 'adminGetUser',
      summary: 'A user with TFA state, lock state and devices',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: { 200: Type.Ref('AdminUser', { description: 'The user.' }), ...errorResponses({ 400: 'Invalid id.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request) => await app.admin.getUser(request.params.id))

  app.patch('/users/:id', {
    schema: {
      tags,
      operationId: 'adminUpdateUser',
      summary: 'Change a user\'s kind (human or automation)',
      security: BearerSecurity,
      params: IdParamsSchema,
      body: KindBodySchema,
      response: { 200: Type.Ref('AdminUser', { description: 'The user after the change.' }), ...errorResponses({ 400: 'Invalid id or body.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request) => await app.admin.setKind(request.params.id, request.body.kind, request.user.sub, contextOf(request)))

  app.post('/users/:id/tfa/reset', {
    schema: {
      tags,
      operationId: 'adminResetTfa',
      summary: 'Remove a user\'s TFA (lost or stolen phone)',
      description: 'Deletes the secret, any pending secret, recovery codes, failure count, lock and used-code records: the old phone\'s codes stop working at once. The user can log in with the password and enrol again.',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: { 200: Type.Ref('AdminUser', { description: 'The user after the reset.' }), ...errorResponses({ 400: 'Invalid id.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request) => await app.admin.resetTfa(request.params.id, request.user.sub, contextOf(request)))

  app.post('/users/:id/tfa/unlock', {
    schema: {
      tags,
      operationId: 'adminUnlockTfa',
      summary: 'Clear a user\'s failure count and lock',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: { 200: Type.Ref('AdminUser', { description: 'The user after the unlock.' }), ...errorResponses({ 400: 'Invalid id.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request) => await app.admin.unlockTfa(request.params.id, request.user.sub, contextOf(request)))

  app.get('/users/:id/sessions', {
    schema: {
      tags,
      operationId: 'adminListUserSessions',
      summary: 'A user\'s live sessions, newest first',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: { 200: Type.Ref('SessionList', { description: 'The sessions.' }), ...errorResponses({ 400: 'Invalid id.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request) => await app.admin.listSessions(request.params.id))

  app.delete('/users/:id/sessions', {
    schema: {
      tags,
      operationId: 'adminEndUserSessions',
      summary: 'End every session of a user (a stolen device, a compromised account)',
      description: 'Their refresh tokens stop working, and their access tokens are refused on every instance within about a second.',
      security: BearerSecurity,
      params: IdParamsSchema,
      response: { 204: Type.Null({ description: 'Every session ended.' }), ...errorResponses({ 400: 'Invalid id.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request, reply) => {
    await app.admin.endSessions(request.params.id, request.user.sub, contextOf(request))
    return reply.code(204).send(null)
  })

  app.get('/users/:id/events', {
    schema: {
      tags,
      operationId: 'adminListUserEvents',
      summary: 'A user\'s security events, newest first',
      security: BearerSecurity,
      params: IdParamsSchema,
      querystring: EventQuerySchema,
      response: { 200: Type.Ref('EventPage', { description: 'One page of events.' }), ...errorResponses({ 400: 'Invalid id or query.', ...ADMIN_ERRORS, ...notFound }) }
    }
  }, async (request) => await app.admin.events(request.params.id, request.query))
}

export default routes
