import { generateKeyPairSync } from 'node:crypto'
import type { Test } from 'tap'
import { ConfigError, loadConfig } from '../../src/config/config.js'

/** The smallest environment production accepts. */
export const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgresql://twofold:pw@db.internal:5432/twofold',
  REDIS_URL: 'redis://cache.internal:6379',
  JWT_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64')
}

/** Runs loadConfig and returns the ConfigError it must throw. */
export function configError (t: Test, env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env)
  } catch (err) {
    t.type(err, ConfigError, 'throws a ConfigError')
    return err as ConfigError
  }
  t.fail(`loadConfig accepted ${JSON.stringify(env)}`)
  throw new Error('unreachable')
}
