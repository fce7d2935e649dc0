import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A second limit on a route, keyed by something other than the client IP (a username, a
     * user id), as a preHandler. The route's own `config.rateLimit` stays the per-IP one.
     */
    limitBy: (key: (request: FastifyRequest) => string, opts: { max: number, timeWindow: number }) => (request: FastifyRequest) => Promise<void>
  }
}

/**
 * Limits are opt-in per route (see routes). With Redis they are counted there, so every
 * instance behind a load balancer shares them; without, in this process.
 */
export default fp(async function rateLimitPlugin (app) {
  await app.register(rateLimit, {
    global: false,
    redis: app.redis,
    nameSpace: `${app.config.redisKeyPrefix}rate-limit:`,
    // Fail closed: a rate limiter that can't count must not let unlimited guesses through.
    skipOnError: false,
    errorResponseBuilder: (_request, context) => new AppError('rateLimited', undefined, Math.ceil(context.ttl / 1000))
  })

  // The plugin's own handlers run once per request (the first one marks the request), so a
  // second `app.rateLimit()` on a route with a per-IP limit would never count: use the bare check.
  app.decorate('limitBy', (key: (request: FastifyRequest) => string, { max, timeWindow }: { max: number, timeWindow: number }) => {
    const check = app.createRateLimit({ max, timeWindow, keyGenerator: key })
    return async function limit (request: FastifyRequest) {
      const result = await check(request)
      if (!result.isAllowed && result.isExceeded) throw new AppError('rateLimited', undefined, result.ttlInSeconds)
    }
  })
}, { name: 'rate-limit', dependencies: ['config', 'store'] })
