import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AppError } from '../errors.js'
import { inOneWrite } from '../store/redis-client.js'
import { limitCounters, namedKeyRedisStore } from './rate-limit-store.js'
import { refuse } from './refusal.js'

/** A limit as a hook, for onRequest or preHandler alike. */
export type LimitHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/**
 * A limit made by `limitBy`: a hook that counts, plus the parts `limitTogether` and a
 * memory-only check before the body need.
 */
export interface Limit extends LimitHook {
  /** Refuses only on a verdict already known here (over its limit until a time): no Redis, no count. */
  known: LimitHook
  /** Seconds until a known verdict ends for this request's key, 0 when none is known. */
  knownFor: (request: FastifyRequest) => number
  /**
   * Counts the request: 0 when it is allowed, otherwise the seconds to wait. Its Redis calls are
   * sent before it returns, so that calls made right after can go in the same write (inOneWrite).
   */
  count: (request: FastifyRequest) => Promise<number>
}

/** What counting needs of a limit. */
type Counter = Pick<Limit, 'knownFor' | 'count'>

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A limit as a hook: `name` namespaces it, `key` picks what is counted (client IP, username,
     * user id). Several may run on one route (per IP in onRequest, per account in preHandler), or
     * be counted in one round with `limitTogether`.
     */
    limitBy: (name: string, key: (request: FastifyRequest) => string, opts: { max: number, timeWindow: number }) => Limit
    /**
     * Several limits counted in one round (their Redis calls in one write, answered together)
     * instead of one after the other; refused when any is over, with the longest wait.
     */
    limitTogether: (...limits: Limit[]) => Limit
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

  // The plugin's own handlers run once per request (the first one marks the request), and its
  // createRateLimit awaits before it sends: limits count with its counters directly.
  const nameSpace = `${app.config.redisKeyPrefix}rate-limit:`
  // Once a key is over its limit it stays so until its window ends, on every instance, so that
  // verdict is kept here too: a flood is then refused from memory, without a Redis round trip
  // per request.
  const exceededUntil = new Map<string, number>()

  // Callback style: a flood answered from memory is refused synchronously, pre-serialized,
  // about as cheaply as a hello-world (no promise, no Error, no error handler). Otherwise every
  // limit is counted at once: each Redis round trip of a request wakes the service, Redis and the
  // thread it preempts on cores bcrypt keeps busy, about 1 ms of the machine per login here
  // (README "Performance"), so limits counted together cost one round.
  function asLimit (self: Counter): Limit {
    const known: LimitHook = function knownLimit (request, reply, done) {
      const wait = self.knownFor(request)
      if (wait > 0) return refuse(reply, 'rateLimited', wait)
      done()
    }
    const limit: LimitHook = function limit (request, reply, done) {
      const known = self.knownFor(request)
      if (known > 0) return refuse(reply, 'rateLimited', known)
      self.count(request).then((wait) => {
        if (wait > 0) refuse(reply, 'rateLimited', wait); else done()
      }, (err: unknown) => { done(err as Error) })
    }
    return Object.assign(limit, self, { known })
  }

  app.decorate('limitBy', (name: string, key: (request: FastifyRequest) => string, { max, timeWindow }: { max: number, timeWindow: number }): Limit => {
    const keyOf = (request: FastifyRequest) => `${name}:${key(request)}`
    const counters = limitCounters(app.redis, nameSpace)
    const knownFor = (request: FastifyRequest): number => {
      const k = keyOf(request)
      const until = exceededUntil.get(k)
      if (until === undefined) return 0
      const left = until - app.now()
      if (left > 0) return Math.ceil(left / 1000)
      exceededUntil.delete(k)
      return 0
    }
    const count = async (request: FastifyRequest): Promise<number> => {
      const k = keyOf(request)
      const { current, ttl } = await counters.incr(k, timeWindow, max)
      if (current <= max) return 0
      if (exceededUntil.size >= 100_000) pruneExpired()
      exceededUntil.set(k, app.now() + ttl)
      return Math.ceil(ttl / 1000)
    }
    return asLimit({ knownFor, count })
  })

  app.decorate('limitTogether', (...limits: Limit[]): Limit => asLimit({
    // The longest wait any of them already knows, 0 when none does.
    knownFor: (request) => limits.reduce((wait, l) => Math.max(wait, l.knownFor(request)), 0),
    // Every one counted, their calls in one write: the longest wait, 0 when all allow the request.
    count: async (request) => Math.max(...await Promise.all(inOneWrite(app.redis, () => limits.map((l) => l.count(request)))))
  }))

  function pruneExpired () {
    const now = app.now()
    for (const [k, until] of exceededUntil) if (until <= now) exceededUntil.delete(k)
    if (exceededUntil.size >= 100_000) exceededUntil.clear()
  }
}, { name: 'rate-limit', dependencies: ['config', 'store'] })
