import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

// Seconds, as Prometheus wants; buckets from a cached GET (~1 ms) to a login that waited for bcrypt (~1 s+).
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const HASH_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4]

/**
 * Every metric the service exports, on a registry of its own (several apps in one process, as
 * in tests, never share counters). Labels are bounded sets of words from the code: never a user
 * id, a username, an address or a raw path.
 */
export function createMetrics ({ hashSlots, threads }: { hashSlots: () => { pending: number, max: number }, threads: number }) {
  const registry = new Registry()
  const registers = [registry]
  // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), as dashboards expect them.
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    logins: new Counter({
      name: 'twofold_login_attempts_total',
      help: 'POST /login answers by result (success, wrong_password, code_required, wrong_code, locked, rate_limited, shed, invalid_request, unavailable, error) and second factor (none, totp, sms, recovery_code)',
      labelNames: ['result', 'second_factor'] as const,
      registers
    }),
    locks: new Counter({ name: 'twofold_tfa_locks_total', help: 'Second factors locked after too many wrong codes', registers }),
    sms: new Counter({
      name: 'twofold_sms_total',
      help: 'SMS codes by result (sent, failed: the gateway did not take it, throttled: not sent, one a minute) and purpose (login, verify…)',
      labelNames: ['result', 'purpose'] as const,
      registers
    }),
    smsLimits: new Counter({
      name: 'twofold_sms_limits_reached_total',
      help: 'SMS refused by a cost limit (limit: number, ip, global, country): a burst is SMS pumping',
      labelNames: ['limit'] as const,
      registers
    }),
    refreshes: new Counter({
      name: 'twofold_token_refreshes_total',
      help: 'POST /token/refresh answers by result (success, invalid, rate_limited, invalid_request, unavailable, error)',
      labelNames: ['result'] as const,
      registers
    }),
    refreshReuse: new Counter({ name: 'twofold_refresh_token_reuse_total', help: 'Reuse of a rotated refresh token detected (the session is ended)', registers }),
    sessionsEnded: new Counter({
      name: 'twofold_sessions_ended_total',
      help: 'Sessions ended, by reason (logout, user, password_changed, tfa_enabled, tfa_disabled, admin, tfa_reset, reuse…)',
      labelNames: ['reason'] as const,
      registers
    }),
    apiKeyExchanges: new Counter({
      name: 'twofold_api_key_exchanges_total',
      help: 'POST /token (API key for an access token) answers by result (success, invalid, rate_limited, invalid_request, unavailable, error)',
      labelNames: ['result'] as const,
      registers
    }),
    // Read at scrape time: nothing to update per hash.
    hashesInFlight: new Gauge({ name: 'twofold_password_hashes_in_flight', help: 'bcrypt hashes and verifications holding a slot (running or queued for a libuv thread)', registers, collect () { this.set(hashSlots().pending) } }),
    hashesQueued: new Gauge({ name: 'twofold_password_hashes_queued', help: 'Hashes in flight beyond libuv\'s threads: waiting for a thread', registers, collect () { this.set(Math.max(0, hashSlots().pending - threads)) } }),
    hashSlots: new Gauge({ name: 'twofold_password_hash_slots', help: 'Slots for hashes in flight (MAX_PENDING_HASHES); beyond, requests are shed with 503', registers, collect () { this.set(hashSlots().max) } }),
    hashDuration: new Histogram({ name: 'twofold_password_hash_duration_seconds', help: 'From taking a hash slot to the result, waiting included', buckets: HASH_BUCKETS, registers }),
    hashesShed: new Counter({ name: 'twofold_password_hashes_shed_total', help: 'Requests refused (503) because every hash slot was taken', registers }),
    requestDuration: new Histogram({
      name: 'twofold_http_request_duration_seconds',
      help: 'HTTP requests by method, route (the route pattern, never the raw path) and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: REQUEST_BUCKETS,
      registers
    }),
    auditPurged: new Counter({ name: 'twofold_audit_events_purged_total', help: 'Security events deleted by retention (AUDIT_RETENTION_DAYS), by this instance', registers })
  }
}

export type Metrics = ReturnType<typeof createMetrics>
