import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Config } from './config.js'

interface Logger { warn: (msg: string) => void }

/**
 * Outside production, a missing JWT_SECRET or TOTP_ENCRYPTION_KEY is generated once and kept in
 * DATA_DIR so tokens and encrypted secrets survive a restart of the one-command start.
 * (loadConfig already refused their absence in production.)
 */
export async function resolveLocalSecrets (config: Config, log: Logger): Promise<Config> {
  let { jwtSecret } = config
  const tfa = { ...config.tfa, decryptionKeys: new Map(config.tfa.decryptionKeys) }
  if (jwtSecret === undefined) {
    jwtSecret = (await readOrCreate(config.dataDir, 'jwt-secret', () => randomBytes(48).toString('base64url'))).trim()
    log.warn(`JWT_SECRET is not set: using a generated secret kept in ${path.join(config.dataDir, 'jwt-secret')} (set JWT_SECRET in production)`)
  }
  if (tfa.encryptionKey === undefined) {
    const key = Buffer.from((await readOrCreate(config.dataDir, 'totp-encryption-key', () => randomBytes(32).toString('base64'))).trim(), 'base64')
    tfa.encryptionKey = { id: 'local', key }
    tfa.decryptionKeys.set('local', key)
    log.warn(`TOTP_ENCRYPTION_KEY is not set: using a generated key kept in ${path.join(config.dataDir, 'totp-encryption-key')} (set TOTP_ENCRYPTION_KEY in production)`)
  }
  return { ...config, jwtSecret, tfa }
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
