import { randomInt } from 'node:crypto'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisClient } from '../store/redis-client.js'

interface Log {
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface RevocationListOptions {
  /** Absent in the embedded single-instance mode: the list is then this process's alone. */
  redis?: RedisClient
  keyPrefix: string
  now: () => number
  log: Log
  /** How often the feed connection is pinged, so one that died without a word is noticed. */
  heartbeatMs?: number
  /** How often expired entries are dropped from memory and from Redis. */
  pruneEveryMs?: number
  /** The feed connection's CLIENT SETNAME, to find it in CLIENT LIST. */
  connectionName?: string
  /** The wait before the next attempt to bring the feed back, after `failures` failed ones. */
  retryDelayMs?: (failures: number) => number
}

export interface RevocationList {
  /** From memory: no I/O on the request path. */
  isRevoked: (id: string) => boolean
  /** False while the feed from Redis is lost: what is in memory may be stale, so don't trust it (503). */
  readonly healthy: boolean
  /** In effect here at once; shared with every instance when the promise resolves. */
  revoke: (ids: string[], untilMs: number) => Promise<void>
  /** Entries held in memory (expired ones go at the next prune). */
  readonly size: number
  /** The feed connection's name in CLIENT LIST (one per instance). */
  readonly connectionName: string
  /** Starts the pruning, and with Redis the feed: subscribe, then load. Needed in both modes. */
  start: () => Promise<void>
  close: () => Promise<void>
}

/** revoke() took effect here but could not reach Redis; it is shared when this instance's feed is back. */
export class RevocationNotSharedError extends Error {
  constructor (options?: { cause?: unknown }) {
    super('revocation not shared with the other instances yet', options)
    this.name = 'RevocationNotSharedError'
  }
}

type Entry = [id: string, untilMs: number]
const CHUNK = 500
const noop = () => {}

/**
 * Ended sessions whose access tokens may still be out there, known to every instance within
 * about a second. Redis holds a sorted set (id → the time the session's last access token
 * expires) for instances that start or come back, and a channel tells the running ones at once.
 */
export function createRevocationList ({
  redis, keyPrefix, now, log, heartbeatMs = 1_000, pruneEveryMs = 10_000, connectionName = 'twofold-revocations',
  retryDelayMs = (failures) => Math.min(200 * failures, 2000)
}: RevocationListOptions): RevocationList {
  const key = `${keyPrefix}revoked`
  const channel = key
  const revokedUntil = new Map<string, number>()
  let healthy = redis === undefined
  let closed = false
  let feed: Redis | undefined
  let failures = 0
  const nodeOffset = randomInt(1024)
  let reconnectTimer: NodeJS.Timeout | undefined
  const timers: NodeJS.Timeout[] = []

  function remember (id: string, untilMs: number) {
    if (untilMs > now() && (revokedUntil.get(id) ?? 0) < untilMs) revokedUntil.set(id, untilMs)
  }

  function pruneMemory () {
    const at = now()
    for (const [id, until] of revokedUntil) if (until <= at) revokedUntil.delete(id)
  }

  async function share (client: RedisClient, entries: Entry[]) {
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK)
      // ZADD before PUBLISH: an instance subscribing after the message was sent loads after
      // it too, so finds the ids in the set. GT: a later expiry is never shortened.
      await client.zadd(key, 'GT', ...chunk.flatMap(([id, until]) => [until, id]))
      await client.publish(channel, JSON.stringify(chunk))
    }
  }

  function receive (message: string) {
    let entries: unknown
    try {
      entries = JSON.parse(message)
    } catch {}
    if (!Array.isArray(entries)) {
      log.warn({ channel }, 'malformed revocation message ignored')
      return
    }
    for (const entry of entries) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number') remember(entry[0], entry[1])
    }
  }

  /**
   * Put back what this instance knows (ids revoked here while Redis was unreachable, or lost with
   * a Redis that restarted empty) and tell those that reloaded already; then load the set.
   */
  async function resync (client: RedisClient) {
    pruneMemory()
    await share(client, [...revokedUntil])
    const at = now()
    await client.zremrangebyscore(key, '-inf', at)
    const flat = await client.zrangebyscore(key, `(${at}`, '+inf', 'WITHSCORES')
    for (let i = 0; i + 1 < flat.length; i += 2) remember(flat[i]!, Number(flat[i + 1]))
  }

  /**
   * A connection of its own that never reconnects by itself: every new one subscribes and then
   * reloads, so nothing published while it was away is missed. ioredis's own resubscription
   * (and a Cluster's silent move of its subscriber to another node) would skip the reload.
   */
  function openFeed (client: RedisClient): Redis | undefined {
    // A heartbeat unanswered for a second is a feed that can't be trusted (a partition sends no RST).
    const own: Partial<RedisOptions> = {
      lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false, retryStrategy: () => null, commandTimeout: 1000, connectionName
    }
    if (!(client instanceof Cluster)) return client.duplicate(own)
    // Redis 7 delivers a PUBLISH to subscribers on every node of a cluster: any node will do.
    // Instances spread over them, and each attempt tries the next one, to get round one that is down.
    const nodes = client.nodes('all')
    const node = nodes[(nodeOffset + failures) % Math.max(nodes.length, 1)]
    if (node === undefined) return undefined
    return new Redis({ ...client.options.redisOptions, host: node.options.host, port: node.options.port, ...own })
  }

  function lose (conn: Redis, err?: unknown) {
    if (conn !== feed) return
    feed = undefined
    if (healthy) log.error({ err: { message: (err as Error | undefined)?.message ?? 'connection closed' } }, 'revocation feed lost: sessions are refused until it is back')
    healthy = false
    conn.disconnect()
    failures++
    retryLater()
  }

  function retryLater () {
    if (closed || reconnectTimer !== undefined) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      connectFeed().catch(noop) // it handles its own failures
    }, retryDelayMs(failures))
    reconnectTimer.unref()
  }

  async function connectFeed () {
    if (closed || redis === undefined) return
    const conn = openFeed(redis)
    if (conn === undefined) {
      failures++
      retryLater()
      return
    }
    feed = conn
    conn.on('error', noop) // the shared client already reports Redis errors; the loss is logged once, below
    conn.on('message', (from: string, message: string) => { if (from === channel) receive(message) })
    conn.once('close', () => lose(conn))
    try {
      await conn.connect()
      await conn.subscribe(channel)
      await resync(redis)
    } catch (err) {
      lose(conn, err)
      return
    }
    if (conn !== feed) return
    if (failures > 0) log.warn({ attempts: failures }, 'revocation feed is back')
    failures = 0
    healthy = true
  }

  return {
    isRevoked (id) {
      const until = revokedUntil.get(id)
      return until !== undefined && until > now()
    },

    get healthy () { return healthy },

    async revoke (ids, untilMs) {
      for (const id of ids) remember(id, untilMs)
      if (redis === undefined || ids.length === 0 || untilMs <= now()) return
      try {
        await share(redis, ids.map((id): Entry => [id, untilMs]))
      } catch (err) {
        log.error({ err: { message: (err as Error).message }, count: ids.length }, 'revocation not shared yet: it is when the feed is back')
        // What failed here may have cut this instance off from the others' revocations too:
        // start over (unhealthy meanwhile), and the resync shares these ids.
        if (feed !== undefined) lose(feed, err)
        throw new RevocationNotSharedError({ cause: err })
      }
    },

    get size () { return revokedUntil.size },

    connectionName,

    async start () {
      if (closed || timers.length > 0) return
      timers.push(setInterval(() => {
        pruneMemory()
        if (redis !== undefined && healthy) redis.zremrangebyscore(key, '-inf', now()).catch(noop) // the next resync or prune does it
      }, pruneEveryMs))
      if (redis !== undefined) {
        timers.push(setInterval(() => {
          const conn = feed
          if (conn !== undefined && healthy) conn.ping().catch((err: unknown) => lose(conn, err))
        }, heartbeatMs))
      }
      for (const timer of timers) timer.unref()
      if (redis === undefined) return
      await connectFeed()
      // Start anyway, unhealthy: the feed keeps retrying, as the store's client does.
      if (!healthy) log.error({}, 'revocation feed unavailable at start: sessions are refused until it is up')
    },

    async close () {
      closed = true
      for (const timer of timers) clearInterval(timer)
      clearTimeout(reconnectTimer)
      const conn = feed
      feed = undefined
      healthy = redis === undefined
      conn?.disconnect()
    }
  }
}
