// The environment twofold runs with under the bench: production mode, the scratch database and
// Redis prefix, fresh secrets.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { COST, JWT_ALGORITHM, REDIS_URL } from './options.mjs'

/** The resource server the bench introspects as. */
export const INTROSPECTION_CLIENT = { id: 'bench', secret: randomBytes(32).toString('hex') }

export function serviceEnv ({ databaseUrl, redisKeyPrefix }) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    BCRYPT_COST: String(COST),
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    ...jwtEnv(JWT_ALGORITHM),
    // Fixed, as in production: the default issuer names HOST:PORT, and a restarted server (the
    // scale bench) gets a new port, which would refuse every token issued before.
    JWT_ISSUER: 'http://twofold.bench.test',
    INTROSPECTION_CLIENTS: `${INTROSPECTION_CLIENT.id}:${INTROSPECTION_CLIENT.secret}`,
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TRUST_PROXY: 'true',
    ...(process.env.MAX_PENDING_HASHES ? { MAX_PENDING_HASHES: process.env.MAX_PENDING_HASHES } : {}),
    ...(process.env.UV_THREADPOOL_SIZE ? { UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE } : {})
  }
}

/** For the throughput server: limits out of the way, so what is measured is the login itself. */
export const WITHOUT_LIMITS = { RATE_LIMIT_LOGIN_MAX: '1000000000', RATE_LIMIT_TFA_MAX: '1000000000', TFA_MAX_FAILURES: '1000000', RATE_LIMIT_INTROSPECT_MAX: '1000000000' }

/** The signing setup for the algorithm under test (the default EdDSA unless BENCH_JWT_ALGORITHM says otherwise). */
function jwtEnv (algorithm) {
  if (algorithm === 'HS256') return { JWT_ALGORITHM: algorithm, JWT_SECRET: randomBytes(48).toString('base64') }
  const { privateKey } = algorithm === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519')
  return { JWT_ALGORITHM: algorithm, JWT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
}
