import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Config } from '../config/config.js'

export type RedisClient = Redis | Cluster

// Fail fast while Redis is away (answered 503) instead of queueing requests; reconnect forever.
const COMMON: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 2000,
  lazyConnect: true
}
const retry = (times: number) => Math.min(times * 200, 2000)

/**
 * The topology the configuration names: one node, a Redis Cluster, or a primary found through
 * Sentinel. Every key one script touches shares a hash tag (store/keys.ts), so the same scripts
 * run on all three.
 */
export function createRedisClient (config: Pick<Config, 'redisUrl' | 'redisCluster' | 'redisSentinel'>): RedisClient | undefined {
  if (config.redisCluster !== undefined) {
    const { nodes, password, tls } = config.redisCluster
    return new Cluster(nodes, {
      enableOfflineQueue: false,
      lazyConnect: true,
      clusterRetryStrategy: retry,
      redisOptions: { ...COMMON, password, ...(tls ? { tls: {} } : {}) }
    })
  }
  if (config.redisSentinel !== undefined) {
    const { sentinels, name, password, tls } = config.redisSentinel
    return new Redis({ ...COMMON, sentinels, name, password, sentinelPassword: password, retryStrategy: retry, ...(tls ? { tls: {}, enableTLSForSentinelMode: true } : {}) })
  }
  if (config.redisUrl !== undefined) return new Redis(config.redisUrl, { ...COMMON, retryStrategy: retry })
  return undefined
}

/**
 * Runs `send`, which sends several commands before it returns, with the connection's socket
 * corked: they leave in one write and reach Redis in one read, where each would otherwise wake
 * Redis (and then this process) on its own, which on cores bcrypt keeps busy costs more than the
 * commands (README "Performance"). A cluster's commands go to their slots' nodes as they are.
 */
export function inOneWrite<T> (client: RedisClient | undefined, send: () => T): T {
  const socket = client instanceof Redis ? client.stream : undefined
  socket?.cork()
  try {
    return send()
  } finally {
    socket?.uncork()
  }
}
