import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import type { EphemeralStore } from '../store/ephemeral-store.js'
import { createMemoryStore } from '../store/memory-store.js'
import { createRedisStore } from '../store/redis-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: EphemeralStore
    /** The Redis connection, shared with the rate limiter; absent in the in-process mode. */
    redis?: Redis
  }
}

export default fp(async function storePlugin (app) {
  const { config } = app
  if (config.redisUrl === undefined) {
    app.log.warn('REDIS_URL is not set: counters and used-code records live in this process, for a single instance only')
    const store = createMemoryStore(app.now)
    app.decorate('store', store)
    app.addHook('onClose', async () => { await store.close() })
    return
  }
  const redis = new Redis(config.redisUrl, {
    // Fail fast while Redis is away (answered 503) instead of queueing requests; reconnect forever.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    lazyConnect: true
  })
  redis.on('error', (err: Error) => app.log.warn({ err: { message: err.message } }, 'redis connection error'))
  try {
    await redis.connect()
  } catch (err) {
    // Start anyway: /readyz reports 503 until Redis is reachable, and ioredis keeps retrying.
    app.log.error({ err: { message: (err as Error).message } }, 'redis is not reachable at start')
  }
  app.decorate('redis', redis)
  app.decorate('store', createRedisStore(redis))
  app.addHook('onClose', async () => { redis.disconnect() })
}, { name: 'store', dependencies: ['config'] })
