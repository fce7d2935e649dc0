import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { registerUser } from '../auth/users.js'
import { AppError } from '../errors.js'
import { BearerSecurity, errorResponses, UsernameSchema } from '../schemas/common.js'

const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String()
}, { $id: 'User', additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/users', {
    config: { rateLimit: { max: app.config.rateLimit.loginMax, timeWindow: app.config.rateLimit.loginWindowMs } },
    schema: {
      tags: ['users'],
      operationId: 'registerUser',
      summary: 'Register a user',
      description: 'Open unless `REGISTRATION=closed`. Passwords are 8 to 72 bytes of UTF-8: bcrypt ignores anything past 72 bytes, so longer ones are refused rather than silently truncated.',
      body: Type.Object({
        username: UsernameSchema,
        password: Type.String({ minLength: 1, maxLength: 1024, description: '8 to 72 bytes of UTF-8.' })
      }, { additionalProperties: false }),
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
  }, async (request, reply) => {
    if (app.config.registration === 'closed') throw new AppError('registrationClosed')
    const user = await registerUser(app, request.body)
    return reply.code(201).send(user)
  })

  app.get('/me', {
    onRequest: [app.authenticate],
    schema: {
      tags: ['users'],
      operationId: 'getMe',
      summary: 'The user the access token belongs to',
      security: BearerSecurity,
      response: { 200: Type.Ref('User', { description: 'The current user.' }), ...errorResponses({ 401: 'Missing, invalid or expired access token.', 404: 'The user no longer exists.' }) }
    }
  }, async (request) => {
    const user = await app.prisma.user.findUnique({ where: { id: request.user.sub }, select: { id: true, username: true } })
    if (user === null) throw new AppError('notFound', 'The user no longer exists.')
    return user
  })
}

export { UserSchema }
export default routes
