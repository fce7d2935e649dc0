// The environment twofold runs with under the bench: production mode, the scratch database and
// Redis prefix, fresh secrets.
import { randomBytes } from 'node:crypto'
import { COST, REDIS_URL } from './options.mjs'

export function serviceEnv ({ databaseUrl, redisKeyPrefix }) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    BCRYPT_COST: String(COST),
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    JWT_SECRET: randomBytes(48).toString('base64'),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TRUST_PROXY: 'true',
    ...(process.env.MAX_PENDING_HASHES ? { MAX_PENDING_HASHES: process.env.MAX_PENDING_HASHES } : {}),
    ...(process.env.UV_THREADPOOL_SIZE ? { UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE } : {})
  }
}

/** For the throughput server: limits out of the way, so what is measured is the login itself. */
export const WITHOUT_LIMITS = { RATE_LIMIT_LOGIN_MAX: '1000000000', RATE_LIMIT_TFA_MAX: '1000000000', TFA_MAX_FAILURES: '1000000' }
