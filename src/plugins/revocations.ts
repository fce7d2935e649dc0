import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import { createRevocationList, type RevocationList } from '../sessions/revocation-list.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Ended sessions and revoked API keys whose access tokens may still be out there, on every instance. */
    revocations: RevocationList
  }
}

/**
 * With Redis, every instance learns of an ended session within about a second (a channel) and
 * catches up after losing it (a sorted set); in the embedded mode the list is this process's.
 * Entries use the wall clock, as the access tokens' `exp` does: they must outlive those tokens.
 */
export default fp(async function revocationsPlugin (app) {
  const revocations = createRevocationList({
    redis: app.redis,
    keyPrefix: app.config.redisKeyPrefix,
    now: Date.now,
    log: app.log,
    // One name per instance, so an operator (or a test) can tell the feeds apart in CLIENT LIST.
    connectionName: `${app.config.redisKeyPrefix}revocations:${randomBytes(4).toString('hex')}`
  })
  await revocations.start()
  app.decorate('revocations', revocations)
  app.addHook('onClose', async () => { await revocations.close() })
}, { name: 'revocations', dependencies: ['config', 'store'] })
