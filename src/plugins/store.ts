import fp from 'fastify-plugin'
import type { EphemeralStore } from '../store/ephemeral-store.js'
import { createMemoryStore } from '../store/memory-store.js'
import { createRedisClient, type RedisClient } from '../store/redis-client.js'
import { createRedisStore } from '../store/redis-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: EphemeralStore
    /** The Redis connection (node, cluster or Sentinel), shared with the rate limiter; absent in the in-process mode. */
    redis?: RedisClient
  }
}

export default fp(async function storePlugin (app) {
  const redis = createRedisClient(app.config)
  if (redis === undefined) {
    app.log.warn('REDIS_URL is not set: counters and used-code records live in this process, for a single instance only')
    const store = createMemoryStore(app.now)
    app.decorate('store', store)
    app.addHook('onClose', async () => { await store.close() })
    return
  }
  redis.on('error', (err: Error) => app.log.warn({ err: { message: err.message } }, 'redis connection error'))
  try {
    await redis.connect()
  } catch (err) {
    // Start anyway: /readyz reports 503 until Redis is reachable, and ioredis keeps retrying.
    app.log.error({ err: { message: (err as Error).message } }, 'redis is not reachable at start')
  }
  app.decorate<RedisClient>('redis', redis)
  app.decorate('store', createRedisStore(redis, app.config.redisKeyPrefix))
  // The rate limiter talks to Redis itself: while Redis is away its failures reach the error handler raw.
  app.unavailableWhen(() => redis.status !== 'ready')
  app.addHook('onClose', async () => { redis.disconnect() })
}, { name: 'store', dependencies: ['config', 'error-handler'] })
