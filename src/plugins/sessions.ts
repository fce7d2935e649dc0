import fp from 'fastify-plugin'
import { createSessionService, type SessionService } from '../sessions/session-service.js'
import { createSessionStore } from '../sessions/session-store.js'
import { RevocationNotSharedError } from '../sessions/revocation-list.js'

const PURGE_EVERY_MS = 60 * 60 * 1000

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionService
  }
}

/** Sessions over PostgreSQL (the records) and the revocation list (who must stop at once). */
export default fp(async function sessionsPlugin (app) {
  const { config, prisma, revocations, audit, now } = app
  const store = createSessionStore({ prisma, now, ...config.sessions })
  app.decorate('sessions', createSessionService({ store, revocations, issueToken: app.issueToken, audit, config, now }))

  // Ended sessions are kept until their last access token has expired, then deleted in small
  // batches off the request path; every instance may run it, a delete of what is gone is nothing.
  const purge = () => {
    store.purgeEnded(now() - (config.jwtTtlSeconds + 60) * 1000)
      .then((count) => { if (count > 0) app.log.info({ count }, 'ended sessions purged') })
      .catch((err: unknown) => app.log.warn({ err: { message: (err as Error).message } }, 'purging ended sessions failed; retried later'))
  }
  const timer = setInterval(purge, PURGE_EVERY_MS)
  timer.unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
  // Ended here and in the database, but not yet shared: the caller should retry (the list shares it once Redis is back).
  app.unavailableWhen((error) => error instanceof RevocationNotSharedError)
}, { name: 'sessions', dependencies: ['config', 'prisma', 'revocations', 'auth', 'audit'] })
