import { createRequire } from 'node:module'
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { RedisClient } from '../store/redis-client.js'

type Incr = FastifyRateLimitStore['incr']
interface PluginStore { incr: Incr, read?: Incr }
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: RedisClient, key: string) => PluginStore

// The plugin's own Redis store (its atomic INCR + PEXPIRE script), reached by path: the package
// exports nothing else, and a copy of its Lua here would drift from it.
const requireStore = createRequire(import.meta.url)
const RedisStore = requireStore('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor
const LocalStore = requireStore('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, cache: number) => PluginStore

/** What a limit's count says: the requests counted in its window, and the milliseconds left of it. */
export interface Count { current: number, ttl: number }

/**
 * One limit's counters, the plugin's own called directly (its atomic INCR + PEXPIRE script on
 * Redis, its LRU in memory, one per limit as the plugin gives each limit its child store, so
 * keys of one limit can't push another's out): `incr` sends its command before it returns, so
 * the counts of several limits (and the call that follows them) can leave in one write
 * (store/redis-client.ts inOneWrite), where createRateLimit awaits before it sends.
 */
export function limitCounters (redis: RedisClient | undefined, nameSpace: string): { incr: (key: string, timeWindow: number, max: number) => Promise<Count> } {
  const store = redis === undefined ? new LocalStore(false, false, 5000) : new RedisStore(false, false, redis, nameSpace)
  return {
    incr: async (key, timeWindow, max) => await new Promise<Count>((resolve, reject) => {
      store.incr(key, (err, res) => { if (err !== null && err !== undefined) reject(err); else resolve(res as Count) }, timeWindow, max)
    })
  }
}

/**
 * The plugin's Redis store for the limits routes declare in their config (`config.rateLimit`),
 * named by their own key generators (`token-ip:<ip>`): `<prefix>rate-limit:<key>`, with nothing
 * of the route's method and URL added, like the limitBy keys.
 */
export function namedKeyRedisStore (redis: RedisClient, nameSpace: string): FastifyRateLimitStoreCtor {
  return class NamedKeyRedisStore implements FastifyRateLimitStore {
    private readonly inner: PluginStore
    constructor (options: { continueExceeding?: boolean, exponentialBackoff?: boolean }) {
      this.inner = new RedisStore(options.continueExceeding === true, options.exponentialBackoff === true, redis, nameSpace)
    }

    incr (...args: Parameters<Incr>) { this.inner.incr(...args) }
    read (...args: Parameters<Incr>) { this.inner.read?.(...args) }
    child () { return this }
  }
}
