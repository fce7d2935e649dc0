import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Config } from './config.js'
import { distinctKeys } from './jwt-config.js'
import { generateSigningKeyPem, parseSigningKey, secretSigningKey, type SigningKey } from './jwt-keys.js'

interface Logger { warn: (msg: string) => void }

/**
 * Outside production, a missing JWT signing key (JWT_SIGNING_KEY, or JWT_SECRET with HS256) or
 * TOTP_ENCRYPTION_KEY is generated once and kept in DATA_DIR so tokens and encrypted secrets
 * survive a restart of the one-command start. (loadConfig already refused their absence in production.)
 */
export async function resolveLocalSecrets (config: Config, log: Logger): Promise<Config> {
  const jwt = config.jwt.signingKey === undefined ? { ...config.jwt, ...await localSigningKey(config, log) } : config.jwt
  const tfa = { ...config.tfa, decryptionKeys: new Map(config.tfa.decryptionKeys) }
  if (tfa.encryptionKey === undefined) {
    const key = Buffer.from((await readOrCreate(config.dataDir, 'totp-encryption-key', () => randomBytes(32).toString('base64'))).trim(), 'base64')
    tfa.encryptionKey = { id: 'local', key }
    tfa.decryptionKeys.set('local', key)
    log.warn(`TOTP_ENCRYPTION_KEY is not set: using a generated key kept in ${path.join(config.dataDir, 'totp-encryption-key')} (set TOTP_ENCRYPTION_KEY in production)`)
  }
  return { ...config, jwt, tfa }
}

async function localSigningKey (config: Config, log: Logger): Promise<{ signingKey: SigningKey, verificationKeys: Config['jwt']['verificationKeys'] }> {
  const { algorithm, verificationKeys } = config.jwt
  if (algorithm === 'HS256') {
    const secret = (await readOrCreate(config.dataDir, 'jwt-secret', () => randomBytes(48).toString('base64url'))).trim()
    log.warn(`JWT_SECRET is not set: using a generated secret kept in ${path.join(config.dataDir, 'jwt-secret')} (set JWT_SECRET in production)`)
    return { signingKey: secretSigningKey(secret), verificationKeys }
  }
  // One file per algorithm: switching JWT_ALGORITHM locally must not meet a key of the other kind.
  const name = `jwt-signing-key-${algorithm.toLowerCase()}.pem`
  const signingKey = parseSigningKey(await readOrCreate(config.dataDir, name, () => generateSigningKeyPem(algorithm)), algorithm)
  log.warn(`JWT_SIGNING_KEY is not set: signing with a generated ${algorithm} key (kid ${signingKey.kid}) kept in ${path.join(config.dataDir, name)} (set JWT_SIGNING_KEY in production)`)
  return { signingKey, verificationKeys: distinctKeys(verificationKeys, signingKey, 'JWT_VERIFICATION_KEYS') }
}

async function readOrCreate (dir: string, name: string, create: () => string): Promise<string> {
  const file = path.join(dir, name)
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const value = create()
  try {
    // 'wx' so two processes starting together can't overwrite each other's secret.
    await writeFile(file, value + '\n', { mode: 0o600, flag: 'wx' })
    return value
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return await readFile(file, 'utf8')
    throw err
  }
}
