import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerSecurity } from '../schemas/credentials.js'
import { errorResponses, UNAUTHENTICATED } from '../schemas/responses.js'
import { ChangePasswordBodySchema, RegisterBodySchema } from '../schemas/users.js'
import { contextOf } from './context.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/users', {
    onRequest: [app.shedWhenBusy, app.limitBy('register-ip', (request) => request.ip, { max: app.config.rateLimit.loginMax, timeWindow: app.config.rateLimit.loginWindowMs }), app.admitToHash],
    schema: {
      tags: ['users'],
      operationId: 'registerUser',
      summary: 'Register a user',
      description: 'Open unless `REGISTRATION=closed`. Passwords are 8 to 72 bytes of UTF-8: bcrypt ignores anything past 72 bytes, so longer ones are refused rather than silently truncated.',
      body: RegisterBodySchema,
      response: {
        201: Type.Ref('User', { description: 'The user was created.' }),
        ...errorResponses({
          400: 'Invalid body: bad username, or a password shorter than 8 or longer than 72 bytes.',
          403: 'Registration is closed.',
          409: 'The username is taken.',
          429: 'Too many requests from this client.'
        })
      }
    }
  }, async (request, reply) => reply.code(201).send(await app.users.register(request.body, contextOf(request))))

  app.get('/me', {
    onRequest: [app.authenticate],
    config: { allowEnrollmentToken: true, allowApiKeyToken: true },
    schema: {
      tags: ['users'],
      operationId: 'getMe',
      summary: 'The user the access token belongs to',
      description: 'Answered from the token alone (no database read).',
      security: BearerSecurity,
      response: { 200: Type.Ref('User', { description: 'The current user.' }), ...errorResponses(UNAUTHENTICATED) }
    }
  }, async (request) => ({ id: request.user.sub, username: request.user.username }))

  app.post('/password', {
    onRequest: [app.shedWhenBusy, app.limitBy('password-ip', (request) => request.ip, { max: app.config.rateLimit.tfaMax, timeWindow: app.config.rateLimit.loginWindowMs }), app.authenticate, app.admitToHash],
    preHandler: [app.limitBy('password-user', (request) => request.user.sub, { max: app.config.rateLimit.tfaMax, timeWindow: app.config.rateLimit.loginWindowMs })],
    schema: {
      tags: ['users'],
      operationId: 'changePassword',
      summary: 'Change the password (with a code when TFA is on and password changes are protected)',
      description: 'When TFA is on and `password_change` is among the protected actions (the default), a valid unused code is ' +
        'required: in `totp`, or typed right after `current_password`, by the same rules as login. Without it the answer is the ' +
        'documented 401 of POST /login (with SMS as the method, the right current password without a code also sends one by SMS).',
      security: BearerSecurity,
      body: ChangePasswordBodySchema,
      response: {
        204: Type.Null({ description: 'Changed.' }),
        ...errorResponses({
          400: 'Invalid body, a new password outside 8–72 bytes, or a wrong current password.',
          401: 'Missing/invalid token, or TFA is on and the code is missing, wrong or used (`Additional authentications steps required.`).',
          403: 'An enrolment-only token (mandatory TFA), or a token from an API key.',
          429: 'Too many attempts, or the second factor is locked (`Retry-After`).'
        })
      }
    }
  }, async (request, reply) => {
    const { current_password: password, ...rest } = request.body
    await app.accounts.changePassword(request.user.sub, { password, ...rest }, contextOf(request))
    return reply.code(204).send(null)
  })
}

export default routes
