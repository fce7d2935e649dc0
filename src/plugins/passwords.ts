import fp from 'fastify-plugin'
import type { onRequestHookHandler } from 'fastify'
import { createPasswordHasher, type PasswordHasher } from '../auth/passwords.js'
import { refuse } from './refusal.js'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
    /**
     * First onRequest hook of the routes that hash: while every hash slot is taken, answer 503
     * before reading the body or touching Redis and the database, so shedding costs next to
     * nothing: clients that retry a 503 at once (most do) would otherwise take the CPU the hashes need.
     */
    shedWhenBusy: onRequestHookHandler
    /**
     * Last onRequest hook of those routes (after the per-IP limit, so a flood refused there
     * never holds a slot): takes the slot the request will hash in, or 503 when the last one went
     * since shedWhenBusy looked. It is held until the response is done (or the client goes).
     */
    admitToHash: onRequestHookHandler
  }
}

export default fp(async function passwordsPlugin (app) {
  const passwords = createPasswordHasher({ cost: app.config.bcryptCost, maxPending: app.config.maxPendingHashes })
  app.decorate('passwords', passwords)
  // Callback style and synchronous: no promise, no thrown error on the refusal path.
  app.decorate('shedWhenBusy', function shedWhenBusy (_request, reply, done) {
    if (passwords.shed()) return refuse(reply, 'overloaded', 1)
    done()
  } satisfies onRequestHookHandler)
  app.decorate('admitToHash', function admitToHash (_request, reply, done) {
    // A client that left while an earlier hook waited (the per-IP limit's Redis call) has had its
    // 'close' already: a release hung on it now would never come, and the slot would be lost for
    // good. Nobody is waiting for this answer, so it gets no slot and no hash.
    if (reply.raw.closed) return refuse(reply, 'overloaded', 1)
    const release = passwords.admit()
    if (release === null) return refuse(reply, 'overloaded', 1)
    // 'close' comes once the response is sent and also when the connection dies first.
    reply.raw.once('close', release)
    done()
  } satisfies onRequestHookHandler)
}, { name: 'passwords', dependencies: ['config'] })
