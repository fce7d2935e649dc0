import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../errors.js'
import { namedKeyRedisStore } from './rate-limit-store.js'
import { refuse } from './refusal.js'

/** A limit as a hook, for onRequest or preHandler alike. */
export type LimitHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A limit as a hook: `name` namespaces it, `key` picks what is counted (client IP, username,
     * user id). Several may run on one route (per IP in onRequest, per account in preHandler).
     */
    limitBy: (name: string, key: (request: FastifyRequest) => string, opts: { max: number, timeWindow: number }) => LimitHook
  }
}

/**
 * Limits are opt-in per route (see routes). With Redis they are counted there, so every
 * instance behind a load balancer shares them; without, in this process.
 */
export default fp(async function rateLimitPlugin (app) {
  await app.register(rateLimit, {
    global: false,
    ...(app.redis !== undefined ? { store: namedKeyRedisStore(app.redis, `${app.config.redisKeyPrefix}rate-limit:`) } : {}),
    // Fail closed: a rate limiter that can't count must not let unlimited guesses through.
    skipOnError: false,
    errorResponseBuilder: (_request, context) => new AppError('rateLimited', { retryAfterSeconds: Math.ceil(context.ttl / 1000) })
  })

  // The plugin's own handlers run once per request (the first one marks the request), so two
  // limits on one route need the bare check. Once a key is over its limit it stays so until its
  // window ends, on every instance, so that verdict is kept here too: a flood is then refused
  // from memory, without a Redis round trip per request.
  const exceededUntil = new Map<string, number>()
  app.decorate('limitBy', (name: string, key: (request: FastifyRequest) => string, { max, timeWindow }: { max: number, timeWindow: number }) => {
    const keyOf = (request: FastifyRequest) => `${name}:${key(request)}`
    const check = app.createRateLimit({ max, timeWindow, keyGenerator: keyOf })
    // Callback style: a flood answered from memory is refused synchronously, pre-serialized,
    // about as cheaply as a hello-world (no promise, no Error, no error handler).
    return function limit (request, reply, done) {
      const k = keyOf(request)
      const until = exceededUntil.get(k)
      if (until !== undefined) {
        const left = until - app.now()
        if (left > 0) return refuse(reply, 'rateLimited', Math.ceil(left / 1000))
        exceededUntil.delete(k)
      }
      check(request).then((result) => {
        if (!result.isAllowed && result.isExceeded) {
          if (exceededUntil.size >= 100_000) pruneExpired()
          exceededUntil.set(k, app.now() + result.ttl)
          refuse(reply, 'rateLimited', result.ttlInSeconds)
          return
        }
        done()
      }, (err: unknown) => { done(err as Error) })
    } satisfies LimitHook
  })

  function pruneExpired () {
    const now = app.now()
    for (const [k, until] of exceededUntil) if (until <= now) exceededUntil.delete(k)
    if (exceededUntil.size >= 100_000) exceededUntil.clear()
  }
}, { name: 'rate-limit', dependencies: ['config', 'store'] })
