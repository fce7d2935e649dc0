import { createRequire } from 'node:module'
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { RedisClient } from '../store/redis-client.js'

type Incr = FastifyRateLimitStore['incr']
interface PluginStore { incr: Incr, read?: Incr }
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: RedisClient, key: string) => PluginStore

// The plugin's own Redis store (its atomic INCR + PEXPIRE script), reached by path: the package
// exports nothing else, and a copy of its Lua here would drift from it.
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor

/**
 * The plugin's Redis store names a limiter's keys after its route's method and URL, and a
 * limiter made with createRateLimit has neither: every key came out as
 * `<prefix>rate-limit:undefinedundefined-<key>`. Each limitBy key already starts with the
 * limit's name, so this store keeps the namespace as it is: `<prefix>rate-limit:<name>:<key>`.
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
