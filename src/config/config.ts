import { isIP } from 'node:net'
import os from 'node:os'
import { Kind, Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { SECRET_VARIABLES, withSecretFiles } from './secret-files.js'
import { introspectionConfig, jwtConfig, type IntrospectionConfig, type JwtConfig } from './jwt-config.js'
import { JWT_ALGORITHMS } from './jwt-keys.js'

const HOST_PORT_LIST = '^[^,:\\s]+:[0-9]{1,5}(,\\s*[^,:\\s]+:[0-9]{1,5})*$'

// Every environment variable the service reads. Nothing else touches process.env.
const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DATABASE_PREPARED_STATEMENTS: Type.Boolean({ default: true }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINEL_NAME: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_TLS: Type.Boolean({ default: false }),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9:_-]{1,64}$', default: 'twofold:' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_TTL_SECONDS: Type.Integer({ minimum: 30, maximum: 86400, default: 900 }),
  SESSION_IDLE_SECONDS: Type.Integer({ minimum: 60, maximum: 400 * 86400, default: 7 * 86400 }),
  SESSION_MAX_SECONDS: Type.Integer({ minimum: 60, maximum: 400 * 86400, default: 30 * 86400 }),
  BCRYPT_COST: Type.Integer({ minimum: 4, maximum: 15, default: 12 }),
  MAX_PENDING_HASHES: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
  REGISTRATION: Type.Union([Type.Literal('open'), Type.Literal('closed')], { default: 'open' }),
  TRUST_PROXY: Type.String({ minLength: 1, default: 'false' }),
  TFA_ISSUER: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^:]+$', default: 'twofold' }),
  TOTP_WINDOW: Type.Integer({ minimum: 0, maximum: 10, default: 1 }),
  TOTP_ENCRYPTION_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })),
  TOTP_ENCRYPTION_KEY_ID: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', default: 'k1' }),
  TOTP_DECRYPTION_KEYS: Type.Optional(Type.String({ pattern: '^([A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=)(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=)*$' })),
  TFA_REQUIRED: Type.Boolean({ default: false }),
  TFA_REQUIRED_FROM: Type.Optional(Type.String({ minLength: 10 })),
  ADMIN_USERNAME: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._@-]+$' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8 })),
  ADMIN_REQUIRE_TFA: Type.Optional(Type.Boolean()),
  TFA_MAX_FAILURES: Type.Integer({ minimum: 1, maximum: 1000000, default: 5 }),
  TFA_LOCK_SECONDS: Type.Integer({ minimum: 1, maximum: 86400 * 7, default: 900 }),
  TFA_LOCK_MAX_SECONDS: Type.Integer({ minimum: 1, maximum: 86400 * 30, default: 86400 }),
  RATE_LIMIT_LOGIN_MAX: Type.Integer({ minimum: 1, default: 20 }),
  RATE_LIMIT_LOGIN_WINDOW: Type.Integer({ minimum: 1000, description: 'milliseconds', default: 60000 }),
  RATE_LIMIT_TFA_MAX: Type.Integer({ minimum: 1, default: 30 }),
  TRUSTED_DEVICE_DAYS: Type.Integer({ minimum: 0, maximum: 400, default: 30 }),
  SMS_TRANSPORT: Type.Union([Type.Literal('none'), Type.Literal('webhook'), Type.Literal('log')], { default: 'none' }),
  SMS_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  SMS_WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  SMS_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 5000 }),
  // Hardening (issue 17): SMS cost limits and connection timeouts.
  SMS_NUMBER_MAX_PER_HOUR: Type.Integer({ minimum: 1, maximum: 1000000, default: 10 }),
  SMS_GLOBAL_MAX_PER_HOUR: Type.Integer({ minimum: 1, maximum: 100000000, default: 1000 }),
  SMS_ENROL_IP_MAX_PER_HOUR: Type.Integer({ minimum: 1, maximum: 1000000, default: 10 }),
  SMS_ALLOWED_COUNTRIES: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{0,6}(,\\s*\\+[1-9][0-9]{0,6})*$' })),
  HTTP_CONNECTION_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3600000, default: 30000 }),
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3600000, default: 30000 }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3600000, default: 72000 }),
  // Operations (issue 16): metrics listener, audit retention.
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  METRICS_HOST: Type.Optional(Type.String({ minLength: 1 })),
  AUDIT_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36500, default: 400 }),
  // Access tokens other services verify (src/config/jwt-config.ts).
  JWT_ALGORITHM: Type.Union(JWT_ALGORITHMS.map(a => Type.Literal(a)), { default: 'EdDSA' }),
  JWT_SIGNING_KEY: Type.Optional(Type.String({ minLength: 1 })),
  JWT_SIGNING_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  JWT_KEY_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._~-]{1,128}$' })),
  JWT_VERIFICATION_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  JWT_VERIFICATION_KEYS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  INTROSPECTION_CLIENTS: Type.Optional(Type.String({ minLength: 1 })),
  INTROSPECTION_CLIENTS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  RATE_LIMIT_INTROSPECT_MAX: Type.Integer({ minimum: 1, description: 'per minute and client address', default: 1200 }),
  // Device cookies (issue 17, item 1): a known device is spared the shared per-username login limit.
  DEVICE_COOKIE_DAYS: Type.Integer({ minimum: 0, maximum: 400, default: 90 }),
  RATE_LIMIT_LOGIN_DEVICE_MAX: Type.Integer({ minimum: 1, default: 10 }),
  // Browsers (issue 15): the reference UI and frontends on other origins.
  UI_ENABLED: Type.Optional(Type.Boolean()),
  CORS_ORIGINS: Type.Optional(Type.String({ pattern: '^https?://[^/,\\s]+(,\\s*https?://[^/,\\s]+)*$' })),
  CORS_CREDENTIALS: Type.Boolean({ default: false })
})

export type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  databaseUrl?: string
  databasePoolMax: number
  /** Named prepared statements (off behind a pooler that can't keep them, e.g. PgBouncer's transaction mode before 1.21). */
  databasePreparedStatements: boolean
  /** Single-node Redis. At most one of redisUrl, redisCluster and redisSentinel is set. */
  redisUrl?: string
  redisCluster?: { nodes: HostPort[], password?: string, tls: boolean }
  redisSentinel?: { sentinels: HostPort[], name: string, password?: string, tls: boolean }
  redisKeyPrefix: string
  dataDir: string
  jwtTtlSeconds: number
  /** How access tokens are signed, for whom, and the keys that verify them. */
  jwt: JwtConfig
  /** Who may call POST /introspect. */
  introspection: IntrospectionConfig
  /** A session ends when not refreshed for `idleSeconds`, and `maxSeconds` after its login whatever the refreshes. */
  sessions: { idleSeconds: number, maxSeconds: number }
  bcryptCost: number
  maxPendingHashes: number
  logLevel: Env['LOG_LEVEL']
  registration: Env['REGISTRATION']
  /** true, false, or the proxies' addresses/CIDRs as Fastify (proxy-addr) reads them. */
  trustProxy: boolean | string
  tfa: {
    issuer: string
    window: number
    maxFailures: number
    /** The first lock; each lockout in a row doubles it, up to maxLockSeconds. */
    lockSeconds: number
    maxLockSeconds: number
    /** Mandatory TFA: from `requiredFrom` (or always, when absent) users without it may only enrol. */
    required: boolean
    requiredFrom?: Date
    /** Key used to encrypt new secrets, plus older keys still accepted for decryption. */
    encryptionKey?: { id: string, key: Buffer }
    decryptionKeys: Map<string, Buffer>
  }
  rateLimit: { loginMax: number, loginWindowMs: number, tfaMax: number }
  /** Admin routes refuse administrators without a second factor (default: on in production). */
  adminRequiresTfa: boolean
  /** How long "remember this device" spares a device the code, in days; 0 turns it off. */
  trustedDeviceDays: number
  /** The first administrator, created (or promoted) at start when set. */
  bootstrapAdmin?: { username: string, password: string }
  /** How SMS codes leave the service; 'none' turns the SMS second factor off. */
  sms: {
    transport: Env['SMS_TRANSPORT']
    /** Set exactly when transport is 'webhook'. */
    webhook?: { url: string, secret: string, timeoutMs: number }
  }
  /**
   * What SMS may cost, shared by every instance: sends per number and for the whole service per
   * hour, enrolment sends per client IP per hour, and (when set) the E.164 prefixes SMS may go to.
   */
  smsLimits: { numberMaxPerHour: number, globalMaxPerHour: number, enrolIpMaxPerHour: number, allowedCountries?: string[] }
  /** How long a client may hold a connection: idle, sending headers, sending the whole request, between keep-alive requests. */
  http: { connectionTimeoutMs: number, headersTimeoutMs: number, requestTimeoutMs: number, keepAliveTimeoutMs: number }
  /** Prometheus metrics on their own listener; absent (the default) means no listener and no collection. */
  metrics?: { port: number, host: string }
  /** Security events older than this are purged, in small batches, by one instance at a time. */
  auditRetentionDays: number
  /**
   * Every successful login hands the client a signed device cookie for `days` (0: none); a login
   * that carries one for its username is counted in that device's own bucket (`loginMax` per
   * login window) instead of the username's shared one.
   */
  deviceCookies: { days: number, loginMax: number }
  /** The reference UI at /ui/ (default: on outside production). */
  ui: { enabled: boolean }
  /** Origins allowed to call the API from a browser (none by default); credentials only when asked for. */
  cors: { origins: string[], credentials: boolean }
}

export interface ConfigProblem { variable: string, detail: string }

export class ConfigError extends Error {
  /** The first bad variable; `problems` has every one found. */
  readonly variable: string
  readonly problems: ConfigProblem[]
  constructor (variable: string | ConfigProblem[], detail = '') {
    const problems = typeof variable === 'string' ? [{ variable, detail }] : variable
    super(`Invalid configuration: ${problems.map(p => `${p.variable} ${p.detail}`).join('; ')}`)
    this.name = 'ConfigError'
    this.variable = problems[0]?.variable ?? 'environment'
    this.problems = problems
  }
}

/**
 * Validates the environment once, at boot. Every malformed variable is reported at once (an
 * operator fixes them in one go, not one restart each); rules between variables follow once
 * each variable is well-formed. Secret variables may come from files (`X_FILE`, Docker secrets).
 */
export function loadConfig (given: Record<string, string | undefined> = process.env): Config {
  const { env: source, problems } = withSecretFiles(given, SECRET_VARIABLES)
  const raw: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(EnvSchema.properties)) {
    const value = source[key]
    if (value === undefined || value === '') continue
    // TypeBox's conversion uses parseInt: "3.5" would become 3, "1e3" 1 and "true" 1.
    if (schema[Kind] === 'Integer' && !/^-?[0-9]+$/.test(value)) {
      problems.push({ variable: key, detail: 'expected integer' })
      continue
    }
    raw[key] = value
  }
  const env = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw))
  for (const error of Value.Errors(EnvSchema, env)) {
    const variable = error.path.split('/')[1] ?? 'environment'
    if (problems.some(p => p.variable === variable)) continue
    problems.push({ variable, detail: describeError(variable, error.message) })
  }
  if (source.NODE_ENV === 'production') problems.push(...missingInProduction(source, problems))
  if (problems.length > 0) {
    const order = Object.keys(EnvSchema.properties)
    throw new ConfigError(problems.sort((a, b) => order.indexOf(a.variable.replace(/_FILE$/, '')) - order.indexOf(b.variable.replace(/_FILE$/, ''))))
  }
  return toConfig(env as Env)
}

/** The value is left out on purpose: it may be a secret. Choices are listed, so a typo is one look away. */
function describeError (variable: string, message: string): string {
  const schema = (EnvSchema.properties as Record<string, { anyOf?: Array<{ const?: unknown }> }>)[variable]
  const choices = schema?.anyOf?.map(s => s.const).filter(c => typeof c === 'string')
  if (choices !== undefined && choices.length > 0) return `must be one of: ${choices.join(', ')}`
  // Only the first letter: lower-casing the rest would misquote patterns ("[a-za-z…]").
  return message.replace(/^./, c => c.toLowerCase())
}

function missingInProduction (source: Record<string, string | undefined>, known: ConfigProblem[]): ConfigProblem[] {
  const missing: ConfigProblem[] = []
  const unset = (name: string) => (source[name] ?? '') === '' && !known.some(p => p.variable === name || p.variable === `${name}_FILE`)
  // Which JWT key is required depends on JWT_ALGORITHM (the rest of the key checks: jwt-config.ts).
  const jwtKey = source.JWT_ALGORITHM === 'HS256' ? 'JWT_SECRET' : 'JWT_SIGNING_KEY'
  for (const name of ['DATABASE_URL', jwtKey, 'TOTP_ENCRYPTION_KEY']) {
    if (unset(name)) missing.push({ variable: name, detail: 'is required when NODE_ENV=production' })
  }
  if (unset('REDIS_URL') && unset('REDIS_CLUSTER_NODES') && unset('REDIS_SENTINELS')) {
    missing.push({ variable: 'REDIS_URL', detail: 'is required when NODE_ENV=production (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS)' })
  }
  return missing
}

function toConfig (env: Env): Config {
  const production = env.NODE_ENV === 'production'
  if (production) {
    if (env.BCRYPT_COST < 10) throw new ConfigError('BCRYPT_COST', 'must be at least 10 when NODE_ENV=production')
  }
  let requiredFrom: Date | undefined
  if (env.TFA_REQUIRED_FROM !== undefined) {
    requiredFrom = new Date(env.TFA_REQUIRED_FROM)
    if (Number.isNaN(requiredFrom.getTime())) throw new ConfigError('TFA_REQUIRED_FROM', 'must be an ISO 8601 date, e.g. 2027-04-17 or 2027-04-17T00:00:00Z')
  }
  if ((env.ADMIN_USERNAME === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError(env.ADMIN_USERNAME === undefined ? 'ADMIN_USERNAME' : 'ADMIN_PASSWORD', 'must be set together with ' + (env.ADMIN_USERNAME === undefined ? 'ADMIN_PASSWORD' : 'ADMIN_USERNAME'))
  }
  const decryptionKeys = new Map<string, Buffer>()
  for (const entry of env.TOTP_DECRYPTION_KEYS?.split(',') ?? []) {
    const [id = '', key = ''] = entry.split(':')
    decryptionKeys.set(id, Buffer.from(key, 'base64'))
  }
  const encryptionKey = env.TOTP_ENCRYPTION_KEY === undefined
    ? undefined
    : { id: env.TOTP_ENCRYPTION_KEY_ID, key: Buffer.from(env.TOTP_ENCRYPTION_KEY, 'base64') }
  if (encryptionKey) decryptionKeys.set(encryptionKey.id, encryptionKey.key)

  return {
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    databasePoolMax: env.DATABASE_POOL_MAX,
    databasePreparedStatements: env.DATABASE_PREPARED_STATEMENTS,
    ...redisTopology(env),
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    dataDir: env.DATA_DIR,
    jwtTtlSeconds: env.JWT_TTL_SECONDS,
    jwt: jwtConfig(env, production),
    introspection: introspectionConfig(env),
    sessions: sessionLifetimes(env),
    bcryptCost: env.BCRYPT_COST,
    maxPendingHashes: env.MAX_PENDING_HASHES ?? defaultMaxPendingHashes(),
    logLevel: env.LOG_LEVEL,
    registration: env.REGISTRATION,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    tfa: {
      issuer: env.TFA_ISSUER,
      window: env.TOTP_WINDOW,
      maxFailures: env.TFA_MAX_FAILURES,
      lockSeconds: env.TFA_LOCK_SECONDS,
      maxLockSeconds: Math.max(env.TFA_LOCK_SECONDS, env.TFA_LOCK_MAX_SECONDS),
      required: env.TFA_REQUIRED,
      requiredFrom,
      encryptionKey,
      decryptionKeys
    },
    rateLimit: {
      loginMax: env.RATE_LIMIT_LOGIN_MAX,
      loginWindowMs: env.RATE_LIMIT_LOGIN_WINDOW,
      tfaMax: env.RATE_LIMIT_TFA_MAX
    },
    adminRequiresTfa: env.ADMIN_REQUIRE_TFA ?? production,
    trustedDeviceDays: env.TRUSTED_DEVICE_DAYS,
    bootstrapAdmin: env.ADMIN_USERNAME !== undefined && env.ADMIN_PASSWORD !== undefined
      ? { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD }
      : undefined,
    sms: smsConfig(env),
    metrics: env.METRICS_PORT === undefined ? undefined : { port: env.METRICS_PORT, host: env.METRICS_HOST ?? env.HOST },
    auditRetentionDays: env.AUDIT_RETENTION_DAYS,
    ...hardening(env),
    deviceCookies: { days: env.DEVICE_COOKIE_DAYS, loginMax: env.RATE_LIMIT_LOGIN_DEVICE_MAX },
    ...browsers(env)
  }
}

function hardening (env: Env): Pick<Config, 'smsLimits' | 'http'> {
  // Node refuses to start a server whose headers may take longer than the whole request.
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', 'must not be longer than HTTP_REQUEST_TIMEOUT_MS')
  return {
    smsLimits: {
      numberMaxPerHour: env.SMS_NUMBER_MAX_PER_HOUR,
      globalMaxPerHour: env.SMS_GLOBAL_MAX_PER_HOUR,
      enrolIpMaxPerHour: env.SMS_ENROL_IP_MAX_PER_HOUR,
      allowedCountries: env.SMS_ALLOWED_COUNTRIES?.split(',').map(prefix => prefix.trim())
    },
    http: {
      connectionTimeoutMs: env.HTTP_CONNECTION_TIMEOUT_MS,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS
    }
  }
}

function browsers (env: Env): Pick<Config, 'ui' | 'cors'> {
  const origins = env.CORS_ORIGINS?.split(',').map(origin => origin.trim()) ?? []
  if (env.CORS_CREDENTIALS && origins.length === 0) throw new ConfigError('CORS_CREDENTIALS', 'needs CORS_ORIGINS: credentials are never allowed for every origin')
  return {
    ui: { enabled: env.UI_ENABLED ?? env.NODE_ENV !== 'production' },
    cors: { origins, credentials: env.CORS_CREDENTIALS }
  }
}

function sessionLifetimes (env: Env): Config['sessions'] {
  if (env.SESSION_IDLE_SECONDS > env.SESSION_MAX_SECONDS) throw new ConfigError('SESSION_IDLE_SECONDS', 'must not be longer than SESSION_MAX_SECONDS')
  if (env.SESSION_MAX_SECONDS < env.JWT_TTL_SECONDS) throw new ConfigError('SESSION_MAX_SECONDS', 'must not be shorter than JWT_TTL_SECONDS')
  return { idleSeconds: env.SESSION_IDLE_SECONDS, maxSeconds: env.SESSION_MAX_SECONDS }
}

function smsConfig (env: Env): Config['sms'] {
  if (env.SMS_TRANSPORT === 'log' && env.NODE_ENV === 'production') {
    throw new ConfigError('SMS_TRANSPORT', '\'log\' writes codes to the log: not allowed when NODE_ENV=production')
  }
  if (env.SMS_TRANSPORT !== 'webhook') return { transport: env.SMS_TRANSPORT }
  if (env.SMS_WEBHOOK_URL === undefined) throw new ConfigError('SMS_WEBHOOK_URL', 'is required when SMS_TRANSPORT=webhook')
  if (!URL.canParse(env.SMS_WEBHOOK_URL)) throw new ConfigError('SMS_WEBHOOK_URL', 'must be an http:// or https:// URL')
  // Without a secret the receiver can't tell our requests from anyone's.
  if (env.SMS_WEBHOOK_SECRET === undefined) throw new ConfigError('SMS_WEBHOOK_SECRET', 'is required when SMS_TRANSPORT=webhook (at least 32 characters)')
  return {
    transport: 'webhook',
    webhook: { url: env.SMS_WEBHOOK_URL, secret: env.SMS_WEBHOOK_SECRET, timeoutMs: env.SMS_WEBHOOK_TIMEOUT_MS }
  }
}

/**
 * bcrypt runs on libuv's pool (UV_THREADPOOL_SIZE threads, 4 by default), so at most
 * min(cores, threads) hashes make progress at once. Twice that in flight keeps every such core
 * busy while a served login waits about two hash times; anything beyond is refused at once
 * (503 + Retry-After) instead of queueing for seconds (bench: the overload scenario).
 */
export function defaultMaxPendingHashes (): number {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4) || 4
  return 2 * Math.max(1, Math.min(os.availableParallelism(), threads))
}

interface HostPort { host: string, port: number }

function parseHostPorts (list: string): HostPort[] {
  return list.split(',').map(entry => {
    const at = entry.trim().lastIndexOf(':')
    return { host: entry.trim().slice(0, at).replace(/^\[|\]$/g, ''), port: Number(entry.trim().slice(at + 1)) }
  })
}

/** One Redis topology: a node (REDIS_URL), a cluster, or a Sentinel-managed primary. */
function redisTopology (env: Env): Pick<Config, 'redisUrl' | 'redisCluster' | 'redisSentinel'> {
  const given = (['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter(name => env[name] !== undefined)
  if (given.length > 1) throw new ConfigError(given[1]!, `can't be combined with ${given[0]}: choose one Redis topology`)
  const auth = { password: env.REDIS_PASSWORD, tls: env.REDIS_TLS }
  if (env.REDIS_CLUSTER_NODES !== undefined) return { redisCluster: { nodes: parseHostPorts(env.REDIS_CLUSTER_NODES), ...auth } }
  if (env.REDIS_SENTINELS !== undefined) {
    if (env.REDIS_SENTINEL_NAME === undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS (the monitored primary\'s name)')
    return { redisSentinel: { sentinels: parseHostPorts(env.REDIS_SENTINELS), name: env.REDIS_SENTINEL_NAME, ...auth } }
  }
  return { redisUrl: env.REDIS_URL }
}

const PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal'])

function parseTrustProxy (value: string): boolean | string {
  if (value === 'true') return true
  if (value === 'false') return false
  // Fastify 5 ignores hop counts (a direct client could forge the hops): refuse one rather than
  // start with a setting that silently trusts nothing.
  if (/^[0-9]+$/.test(value)) throw new ConfigError('TRUST_PROXY', 'must be true, false or the proxies\' addresses (hop counts are not supported)')
  for (const entry of value.split(',').map(e => e.trim())) {
    const [address = '', bits, extra] = entry.split('/')
    const validBits = bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= (isIP(address) === 6 ? 128 : 32))
    if (!PROXY_KEYWORDS.has(entry) && (isIP(address) === 0 || !validBits || extra !== undefined)) {
      throw new ConfigError('TRUST_PROXY', 'must be true, false or a comma-separated list of addresses, CIDR ranges, loopback, linklocal or uniquelocal')
    }
  }
  return value
}
