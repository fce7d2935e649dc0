import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { AppError } from '../errors.js'

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
}, { name: 'rate-limit', dependencies: ['config', 'store'] })
