import fp from 'fastify-plugin'
import { createPasswordHasher, type PasswordHasher } from '../auth/passwords.js'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
    /**
     * onRequest hook for routes that hash: while every hash slot is taken, answer 503 before
     * reading the body or touching Redis and the database, so shedding costs next to nothing.
     */
    shedWhenBusy: () => Promise<void>
  }
}

export default fp(async function passwordsPlugin (app) {
  const passwords = createPasswordHasher({ cost: app.config.bcryptCost, maxPending: app.config.maxPendingHashes })
  app.decorate('passwords', passwords)
  app.decorate('shedWhenBusy', async () => { passwords.assertCapacity() })
}, { name: 'passwords', dependencies: ['config'] })
