import t from 'tap'
import Fastify from 'fastify'
import os from 'node:os'
import { defaultMaxPendingHashes, loadConfig } from '../../src/config/config.js'
import { configError, PRODUCTION } from './config-helpers.js'

const KEY = Buffer.alloc(32, 7).toString('base64')

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.dataDir, './data')
  t.equal(config.jwtTtlSeconds, 900)
  t.equal(config.bcryptCost, 12)
  t.equal(config.registration, 'open')
  t.equal(config.jwt.signingKey, undefined, 'development (the default NODE_ENV) starts without secrets: they come from DATA_DIR')
  t.equal(config.trustProxy, false)
  t.equal(config.databaseUrl, undefined)
  t.equal(config.redisUrl, undefined)
  t.equal(config.tfa.encryptionKey, undefined)
  // An empty variable counts as unset, as in most shells' `VAR=` lines.
  t.equal(loadConfig({ PORT: '' }).port, 3000)
})

t.test('values are read and converted', async (t) => {
  const config = loadConfig({ PORT: '8080', HOST: '0.0.0.0', BCRYPT_COST: '10', REGISTRATION: 'closed', JWT_TTL_SECONDS: '60', TOTP_ENCRYPTION_KEY: KEY })
  t.equal(config.port, 8080)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.bcryptCost, 10)
  t.equal(config.registration, 'closed')
  t.equal(config.jwtTtlSeconds, 60)
  t.same(config.tfa.encryptionKey, { id: 'k1', key: Buffer.alloc(32, 7) })
  t.same(config.tfa.decryptionKeys.get('k1'), Buffer.alloc(32, 7))
})

t.test('a bad value throws a ConfigError naming the variable', async (t) => {
  const cases: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['BCRYPT_COST', '3'],
    ['BCRYPT_COST', '16'],
    ['REGISTRATION', 'maybe'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://cache:6379'],
    ['LOG_LEVEL', 'verbose'],
    ['NODE_ENV', 'staging'],
    ['JWT_TTL_SECONDS', '5'],
    // Not silently truncated by parseInt: "3.5" is not port 3, "1e3" is not 1, "true" is not 1.
    ['PORT', '3.5'],
    ['PORT', '1e3'],
    ['TFA_MAX_FAILURES', 'true'],
    ['BCRYPT_COST', '12abc']
  ]
  for (const [variable, value] of cases) {
    const err = configError(t, { [variable]: value })
    t.equal(err.variable, variable, `${variable}=${value}: variable`)
    t.match(err.message, new RegExp(`^Invalid configuration: ${variable} `), `${variable}=${value}: message names it`)
  }
})

t.test('the message quotes a pattern as written (not lower-cased)', async (t) => {
  const err = configError(t, { TOTP_ENCRYPTION_KEY: 'nope' })
  t.match(err.message, '[A-Za-z0-9+/]{43}=')
})

t.test('production requires the external services and real secrets', async (t) => {
  t.doesNotThrow(() => loadConfig(PRODUCTION), 'a complete production environment loads')
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'JWT_SIGNING_KEY', 'TOTP_ENCRYPTION_KEY'] as const) {
    const err = configError(t, { ...PRODUCTION, [name]: undefined })
    t.equal(err.variable, name, `missing ${name} is named`)
    t.match(err.message, name)
    t.match(err.message, 'production')
  }
})

t.test('BCRYPT_COST: 4 is fine in test, below 10 refused in production', async (t) => {
  t.equal(loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '4' }).bcryptCost, 4)
  const err = configError(t, { ...PRODUCTION, BCRYPT_COST: '9' })
  t.equal(err.variable, 'BCRYPT_COST')
  t.equal(loadConfig({ ...PRODUCTION, BCRYPT_COST: '10' }).bcryptCost, 10)
})

t.test('a ConfigError never repeats the offending value', async (t) => {
  const cases: Array<[string, string]> = [
    ['JWT_SECRET', 'hunter2-but-too-short'],
    ['TOTP_ENCRYPTION_KEY', 'c2VjcmV0LWtleS1vZi10aGUtd3JvbmctbGVuZ3Ro'],
    ['TOTP_DECRYPTION_KEYS', 'old:c2VjcmV0LWtleS1vZi10aGUtd3JvbmctbGVuZ3Ro'],
    ['DATABASE_URL', 'mysql://admin:s3cr3t-pw@db:3306/app'],
    ['REDIS_URL', 'http://:r3dis-pw@cache:6379']
  ]
  for (const [variable, value] of cases) {
    for (const env of [{ [variable]: value }, { ...PRODUCTION, [variable]: value }]) {
      const err = configError(t, env)
      t.equal(err.variable, variable)
      t.notMatch(err.message, value, `${variable}: value left out`)
      t.notMatch(String(err.stack), value, `${variable}: value not in the stack either`)
    }
  }
  t.notMatch(configError(t, { JWT_SECRET: 'hunter2-but-too-short' }).message, 'hunter2')
})

t.test('TRUST_PROXY', async (t) => {
  t.equal(loadConfig({}).trustProxy, false, 'off by default')
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  // Fastify 5 ignores hop counts (a direct client could forge the hops): refused at boot.
  for (const bad of ['2', '0', 'yes', 'TRUE', '10.0.0.1/33', '10.0.0.1,not-an-ip', '10.0.0.0/8/1']) {
    t.throws(() => loadConfig({ TRUST_PROXY: bad }), { name: 'ConfigError', variable: 'TRUST_PROXY' }, `refuses ${bad}`)
  }
  t.equal(loadConfig({ TRUST_PROXY: '::1, fd00::/8, uniquelocal' }).trustProxy, '::1, fd00::/8, uniquelocal')
  t.equal(loadConfig({ TRUST_PROXY: '10.0.0.1, 10.0.0.0/8' }).trustProxy, '10.0.0.1, 10.0.0.0/8', 'an address list stays a string')
  t.equal(loadConfig({ TRUST_PROXY: 'loopback' }).trustProxy, 'loopback')

  // What Fastify makes of each value: the client address seen behind the proxies.
  async function clientIp (trustProxy: string, forwardedFor: string) {
    const app = Fastify({ trustProxy: loadConfig({ TRUST_PROXY: trustProxy }).trustProxy })
    app.get('/ip', async (request) => ({ ip: request.ip }))
    try {
      const res = await app.inject({ url: '/ip', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': forwardedFor } })
      return (res.json() as { ip: string }).ip
    } finally {
      await app.close()
    }
  }
  t.equal(await clientIp('false', '203.0.113.9, 10.0.0.5'), '127.0.0.1', 'false: the socket address')
  t.equal(await clientIp('true', '203.0.113.9, 10.0.0.5'), '203.0.113.9', 'true: the left-most address')
  t.equal(await clientIp('127.0.0.1', '203.0.113.9, 10.0.0.5'), '10.0.0.5', 'a trusted address')
})

t.test('Redis topologies: one node, a cluster, or Sentinel, never two at once', async (t) => {
  const cluster = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7001, 10.0.0.2:7002,redis-3:7003', REDIS_PASSWORD: 'pw' })
  t.same(cluster.redisCluster, { nodes: [{ host: '10.0.0.1', port: 7001 }, { host: '10.0.0.2', port: 7002 }, { host: 'redis-3', port: 7003 }], password: 'pw', tls: false })
  t.equal(cluster.redisUrl, undefined)
  const sentinel = loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_TLS: 'true' })
  t.same(sentinel.redisSentinel, { sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'mymaster', password: undefined, tls: true })
  t.throws(() => loadConfig({ REDIS_SENTINELS: 's1:26379' }), { name: 'ConfigError', variable: 'REDIS_SENTINEL_NAME' })
  t.throws(() => loadConfig({ REDIS_URL: 'redis://x:6379', REDIS_CLUSTER_NODES: 'a:1' }), { name: 'ConfigError', variable: 'REDIS_CLUSTER_NODES' })
  t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'no-port' }), { name: 'ConfigError', variable: 'REDIS_CLUSTER_NODES' })
  const production = { NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/x', JWT_ALGORITHM: 'HS256', JWT_SECRET: 'x'.repeat(40), TOTP_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }
  t.ok(loadConfig({ ...production, REDIS_CLUSTER_NODES: 'a:7001' }).redisCluster, 'a cluster satisfies production')
  t.throws(() => loadConfig(production), { name: 'ConfigError', variable: 'REDIS_URL' }, 'production needs some Redis')
})

t.test('MAX_PENDING_HASHES: default twice the hashes that run at once, min(cores, libuv threads)', async (t) => {
  const saved = process.env.UV_THREADPOOL_SIZE
  t.teardown(() => { if (saved === undefined) delete process.env.UV_THREADPOOL_SIZE; else process.env.UV_THREADPOOL_SIZE = saved })
  const cores = os.availableParallelism()
  delete process.env.UV_THREADPOOL_SIZE
  t.equal(defaultMaxPendingHashes(), 2 * Math.min(cores, 4), 'libuv\'s default pool of 4')
  process.env.UV_THREADPOOL_SIZE = '1'
  t.equal(defaultMaxPendingHashes(), 2, 'one thread: two in flight')
  process.env.UV_THREADPOOL_SIZE = '64'
  t.equal(defaultMaxPendingHashes(), 2 * cores, 'a big pool: the cores limit')
  t.equal(loadConfig({ MAX_PENDING_HASHES: '9' }).maxPendingHashes, 9, 'an explicit value wins')
})

t.test('ADMIN_REQUIRE_TFA: on by default in production, off elsewhere, either way when set', async (t) => {
  t.equal(loadConfig(PRODUCTION).adminRequiresTfa, true, 'production: administrators need a second factor')
  t.equal(loadConfig({}).adminRequiresTfa, false, 'development: not by default')
  t.equal(loadConfig({ ...PRODUCTION, ADMIN_REQUIRE_TFA: 'false' }).adminRequiresTfa, false, 'an operator may turn it off')
  t.equal(loadConfig({ ADMIN_REQUIRE_TFA: 'true' }).adminRequiresTfa, true)
})

t.test('session lifetimes: defaults, and an idle lifetime longer than the absolute one is refused', async (t) => {
  t.same(loadConfig({}).sessions, { idleSeconds: 7 * 86400, maxSeconds: 30 * 86400 })
  t.equal(configError(t, { SESSION_IDLE_SECONDS: '7200', SESSION_MAX_SECONDS: '3600' }).variable, 'SESSION_IDLE_SECONDS')
  t.equal(configError(t, { SESSION_IDLE_SECONDS: '600', SESSION_MAX_SECONDS: '600', JWT_TTL_SECONDS: '900' }).variable, 'SESSION_MAX_SECONDS')
})

t.test('TRUSTED_DEVICE_DAYS: 30 by default, 0 turns remembered devices off, a bad value names the variable', async (t) => {
  t.equal(loadConfig({}).trustedDeviceDays, 30)
  t.equal(loadConfig({ TRUSTED_DEVICE_DAYS: '0' }).trustedDeviceDays, 0)
  t.equal(loadConfig({ TRUSTED_DEVICE_DAYS: '7' }).trustedDeviceDays, 7)
  for (const bad of ['-1', '1.5', 'thirty', '401']) {
    t.throws(() => loadConfig({ TRUSTED_DEVICE_DAYS: bad }), { name: 'ConfigError', variable: 'TRUSTED_DEVICE_DAYS' }, bad)
  }
})

t.test('every malformed variable is reported at once, unions with their allowed values', async (t) => {
  const err = configError(t, { NODE_ENV: 'prod', PORT: 'abc', REGISTRATION: 'maybe', BCRYPT_COST: '99', SMS_TRANSPORT: 'carrier-pigeon' })
  t.same(err.problems.map(p => p.variable), ['NODE_ENV', 'PORT', 'BCRYPT_COST', 'REGISTRATION', 'SMS_TRANSPORT'], 'all five, in the schema\'s order')
  t.equal(err.variable, 'NODE_ENV', 'variable: the first of them')
  t.match(err.message, 'NODE_ENV must be one of: development, production, test')
  t.match(err.message, 'REGISTRATION must be one of: open, closed')
  t.match(err.message, 'SMS_TRANSPORT must be one of: none, webhook, log')
  t.notMatch(err.message, /union/i, 'not TypeBox\'s "expected union value"')
  t.notMatch(err.message, 'prod;', 'the value itself is not repeated')
})

t.test('production: every missing requirement at once', async (t) => {
  const err = configError(t, { NODE_ENV: 'production' })
  t.same(err.problems.map(p => p.variable), ['DATABASE_URL', 'REDIS_URL', 'TOTP_ENCRYPTION_KEY', 'JWT_SIGNING_KEY'], 'in the schema\'s order; the signing key of the default EdDSA')
  const withBadPort = configError(t, { NODE_ENV: 'production', JWT_ALGORITHM: 'HS256', PORT: 'x', JWT_SECRET: 'short' })
  t.same(withBadPort.problems.map(p => p.variable), ['PORT', 'DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'TOTP_ENCRYPTION_KEY'], 'malformed and missing together; a short secret is named once')
})
