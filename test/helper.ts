// The environment tests run in: the real PostgreSQL and Redis, configs, apps built on them, and
// a clock to move by hand. What a client does against those apps is in ./flows.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import net from 'node:net'
import pg from 'pg'
import { Cluster, Redis } from 'ioredis'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { buildApp, type App, type BuildOptions } from '../src/app.js'
import { createAccessTokens, jwtRegistrations, type AccessTokens } from '../src/auth/access-tokens.js'
import { loadConfig, type Config } from '../src/config/config.js'
import type { JwtConfig } from '../src/config/jwt-config.js'

// The real services the suite runs against (started by .ci/run); override for other setups.
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/** When set (host:port,…), the suite's Redis is this Redis Cluster instead (see npm run test:cluster). */
export const TEST_REDIS_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES

/** The test Redis environment: one node, or the cluster when TEST_REDIS_CLUSTER_NODES is set. */
export const redisEnv = (): Record<string, string | undefined> => TEST_REDIS_CLUSTER_NODES !== undefined
  ? { REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES }
  : { REDIS_URL: TEST_REDIS_URL }

/** A plain client to the suite's Redis (node or cluster), for tests that talk to it directly. */
export function createTestRedis (): Redis | Cluster {
  if (TEST_REDIS_CLUSTER_NODES === undefined) return new Redis(TEST_REDIS_URL)
  return new Cluster(TEST_REDIS_CLUSTER_NODES.split(',').map(n => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })))
}

interface Teardown { teardown: (fn: () => unknown) => void }

/** A fresh, empty PostgreSQL database for one test file, dropped at its end. */
export async function createTestDatabase (t: Teardown): Promise<string> {
  const name = `twofold_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
  })
  const url = new URL(ADMIN_DATABASE_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** Access tokens for a JWT configuration without the rest of the app: @fastify/jwt registered as the auth plugin does. */
export async function accessTokensFor (jwt: JwtConfig): Promise<AccessTokens> {
  const app = Fastify()
  for (const options of jwtRegistrations(jwt)) await app.register(fastifyJwt, options)
  await app.ready()
  return createAccessTokens(jwt, app.jwt)
}

/** A fresh private key (PKCS#8 PEM) for JWT_SIGNING_KEY: Ed25519 unless ES256 is asked for. */
export function testSigningKey (alg: 'EdDSA' | 'ES256' = 'EdDSA'): string {
  const { privateKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

function testJwtKey (algorithm = 'EdDSA'): Record<string, string> {
  if (algorithm === 'HS256') return { JWT_SECRET: randomBytes(32).toString('base64') }
  return algorithm === 'ES256' ? { JWT_SIGNING_KEY: testSigningKey('ES256') } : { JWT_SIGNING_KEY: testSigningKey() }
}

/** Config as production builds it, from an environment, with fast bcrypt and fresh secrets. */
export function testConfig (env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    BCRYPT_COST: '4',
    LOG_LEVEL: 'silent',
    ...redisEnv(),
    REDIS_KEY_PREFIX: `test:${randomBytes(6).toString('hex')}:`,
    // A key of its own for the algorithm asked for (EdDSA, the default, unless JWT_ALGORITHM says otherwise).
    ...testJwtKey(env.JWT_ALGORITHM),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    RATE_LIMIT_LOGIN_MAX: '1000',
    RATE_LIMIT_TFA_MAX: '1000',
    // Tests enrol many SMS users from one address; the per-address quota is tested on its own.
    SMS_ENROL_IP_MAX_PER_HOUR: '1000',
    // Concurrency tests race many logins on purpose; shedding is tested on its own.
    MAX_PENDING_HASHES: '1000',
    ...env
  })
}

/** Environment for two apps that must behave as one deployment (same secrets, same prefix). */
export function sharedEnv (databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: `test:${randomBytes(6).toString('hex')}:`,
    JWT_SIGNING_KEY: testSigningKey(),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // Two cores give a default of 8 waiting hashes; concurrency tests need every request to race.
    MAX_PENDING_HASHES: '200',
    ...extra
  }
}

/** A clock the test moves by hand, to cross TOTP steps without sleeping. */
export class TestClock {
  constructor (public ms = Date.now()) {}
  now = () => this.ms
  advance (ms: number) { this.ms += ms }
}

/**
 * Builds the app exactly as server.ts does, on `config` (a fresh database unless one is given),
 * and closes it (and removes its Redis keys) at the end of the test.
 */
export async function buildTestApp (t: Teardown, config?: Config, options: BuildOptions = {}): Promise<App> {
  const cfg = config ?? testConfig({ DATABASE_URL: await createTestDatabase(t) })
  const app = await buildApp(cfg, options)
  t.teardown(async () => {
    await app.close()
    if (cfg.redisUrl !== undefined || cfg.redisCluster !== undefined) await deleteKeys(cfg, cfg.redisKeyPrefix)
  })
  await app.ready()
  return app
}

async function deleteKeys (cfg: Config, prefix: string) {
  // No retries: an app pointed at a dead Redis must not hang its own teardown.
  const redis = cfg.redisCluster !== undefined
    ? new Cluster(cfg.redisCluster.nodes, { clusterRetryStrategy: () => null, redisOptions: { maxRetriesPerRequest: 1 } })
    : new Redis(cfg.redisUrl!, { maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    // On a cluster each master holds its own slots: ask every one of them.
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
    for (const node of nodes) {
      const keys = await node.keys(`${prefix}*`)
      for (const key of keys) await node.del(key)
    }
  } catch {
  } finally {
    redis.disconnect()
  }
}

/** A port nothing listens on right now, for servers a test starts in another process. */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Whether this machine can start a Redis of a test's own (`redis-server`, installed by .ci/run). */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0

/**
 * A private Redis on `port` (no persistence, as in CI), killed at the end of the test at the
 * latest: for tests that kill, restart or pause Redis, which the suite's shared one must not see.
 */
export async function startRedisServer (t: Teardown, port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  probe.on('error', () => {})
  const start = Date.now()
  while (!await probe.connect().then(() => true, () => false)) {
    if (Date.now() - start > 5000) throw new Error(`redis-server on ${port} did not start`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  probe.disconnect()
  return child
}
