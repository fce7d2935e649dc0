// Docker and Kubernetes hand secrets over as files: each secret variable X may be X_FILE.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { SECRET_VARIABLES } from '../../src/config/secret-files.js'
import { configError, PRODUCTION } from './config-helpers.js'

const dir = await mkdtemp(path.join(tmpdir(), 'twofold-secrets-'))
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
async function secretFile (name: string, content: string): Promise<string> {
  const file = path.join(dir, name)
  await writeFile(file, content, { mode: 0o600 })
  return file
}

t.test('production entirely from files, as compose.yaml runs it', async (t) => {
  const jwt = 'j'.repeat(48)
  const key = Buffer.alloc(32, 9).toString('base64')
  const config = loadConfig({
    NODE_ENV: 'production',
    JWT_ALGORITHM: 'HS256',
    // `echo secret > file` leaves a newline: not part of the secret.
    DATABASE_URL_FILE: await secretFile('db', 'postgresql://twofold:pw@db:5432/twofold\n'),
    REDIS_URL_FILE: await secretFile('redis', 'redis://:redis-pw@redis:6379'),
    JWT_SECRET_FILE: await secretFile('jwt', `${jwt}\n`),
    TOTP_ENCRYPTION_KEY_FILE: await secretFile('totp', `${key}\r\n`),
    SMS_TRANSPORT: 'webhook',
    SMS_WEBHOOK_URL: 'https://sms.internal/send',
    SMS_WEBHOOK_SECRET_FILE: await secretFile('sms', 's'.repeat(40))
  })
  t.equal(config.databaseUrl, 'postgresql://twofold:pw@db:5432/twofold')
  t.equal(config.redisUrl, 'redis://:redis-pw@redis:6379')
  t.equal(config.jwt.signingKey?.alg, 'HS256')
  t.same(config.jwt.signingKey?.privateKey.export(), Buffer.from(jwt), 'the HS256 secret, without the newline')
  t.same(config.tfa.encryptionKey?.key, Buffer.alloc(32, 9))
  t.equal(config.sms.webhook?.secret, 's'.repeat(40))
})

t.test('every secret variable has its _FILE form', async (t) => {
  t.same([...SECRET_VARIABLES].sort(), ['ADMIN_PASSWORD', 'DATABASE_URL', 'INTROSPECTION_CLIENTS', 'JWT_SECRET', 'JWT_SIGNING_KEY', 'JWT_VERIFICATION_KEYS', 'REDIS_PASSWORD', 'REDIS_URL', 'SMS_WEBHOOK_SECRET', 'TOTP_DECRYPTION_KEYS', 'TOTP_ENCRYPTION_KEY'])
  const config = loadConfig({ ADMIN_USERNAME: 'root', ADMIN_PASSWORD_FILE: await secretFile('admin', 'admin-password\n') })
  t.same(config.bootstrapAdmin, { username: 'root', password: 'admin-password' })
})

t.test('a file value is validated like the variable, and its content never shown', async (t) => {
  const err = configError(t, { ...PRODUCTION, JWT_SECRET: undefined, JWT_SECRET_FILE: await secretFile('short', 'hunter2-too-short') })
  t.equal(err.variable, 'JWT_SECRET')
  t.notMatch(err.message, 'hunter2')
})

t.test('a missing or unreadable file, or both forms at once, is named', async (t) => {
  const missing = configError(t, { ...PRODUCTION, JWT_SECRET: undefined, JWT_SECRET_FILE: path.join(dir, 'nope') })
  t.equal(missing.variable, 'JWT_SECRET_FILE')
  t.match(missing.message, "JWT_SECRET_FILE names a file that can't be read (ENOENT)")
  t.notMatch(missing.message, /JWT_SECRET is required/, 'not also reported as missing')

  const both = configError(t, { ...PRODUCTION, TOTP_ENCRYPTION_KEY_FILE: await secretFile('totp2', Buffer.alloc(32, 8).toString('base64')) })
  t.match(both.message, "TOTP_ENCRYPTION_KEY_FILE can't be combined with TOTP_ENCRYPTION_KEY")

  if (process.getuid?.() !== 0) {
    const locked = await secretFile('locked', 'x'.repeat(40))
    await chmod(locked, 0o000)
    t.match(configError(t, { ...PRODUCTION, JWT_SECRET: undefined, JWT_SECRET_FILE: locked }).message, '(EACCES)')
  }
  const several = configError(t, { NODE_ENV: 'production', DATABASE_URL_FILE: path.join(dir, 'a'), REDIS_URL_FILE: path.join(dir, 'b') })
  t.same(several.problems.map(p => p.variable).slice(0, 2), ['DATABASE_URL_FILE', 'REDIS_URL_FILE'], 'all at once, with the rest')
})
