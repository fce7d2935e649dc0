import fp from 'fastify-plugin'
import { createSessionService, type SessionService } from '../sessions/session-service.js'
import { createSessionStore } from '../sessions/session-store.js'
import { RevocationNotSharedError } from '../sessions/revocation-list.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionService
  }
}

/** Sessions over PostgreSQL (the records) and the revocation list (who must stop at once). */
export default fp(async function sessionsPlugin (app) {
  const { config, prisma, revocations, audit, now } = app
  const store = createSessionStore({ prisma, now, ...config.sessions })
  app.decorate('sessions', createSessionService({ store, revocations, issueToken: app.issueToken, prisma, audit, config, now }))
  // Ended here and in the database, but not yet shared: the caller should retry (the list shares it once Redis is back).
  app.unavailableWhen((error) => error instanceof RevocationNotSharedError)
}, { name: 'sessions', dependencies: ['config', 'prisma', 'revocations', 'auth', 'audit'] })
