import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { resolveLocalSecrets } from '../../src/config/local-secrets.js'

const tmp = async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'twofold-secrets-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}
const silent = { warn: () => {} }

t.test('resolveLocalSecrets', async (t) => {
  const dataDir = path.join(await tmp(), 'nested', 'data')
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir })
  const warnings: string[] = []
  const first = await resolveLocalSecrets(config, { warn: (msg) => { warnings.push(msg) } })

  t.type(first.jwtSecret, 'string')
  t.ok((first.jwtSecret ?? '').length >= 32, 'a strong JWT secret')
  t.equal(first.tfa.encryptionKey?.key.length, 32, 'a 256-bit TOTP key')
  t.equal(first.tfa.encryptionKey?.id, 'local')
  t.same(first.tfa.decryptionKeys.get('local'), first.tfa.encryptionKey?.key, 'usable for decryption')
  t.equal(warnings.length, 2, 'each generated secret is announced')
  for (const w of warnings) {
    t.notMatch(w, first.jwtSecret ?? '-', 'warning does not contain the secret')
    t.notMatch(w, first.tfa.encryptionKey?.key.toString('base64') ?? '-', 'warning does not contain the key')
  }
  t.equal(config.jwtSecret, undefined, 'the input config is not mutated')
  t.equal(config.tfa.encryptionKey, undefined)
  t.notOk(config.tfa.decryptionKeys.has('local'))

  for (const name of ['jwt-secret', 'totp-encryption-key']) {
    const info = await stat(path.join(dataDir, name))
    t.equal(info.mode & 0o777, 0o600, `${name} is mode 0600`)
  }
  t.equal((await readFile(path.join(dataDir, 'jwt-secret'), 'utf8')).trim(), first.jwtSecret)
  t.equal((await stat(dataDir)).mode & 0o077, 0, 'DATA_DIR is not readable by others')

  const second = await resolveLocalSecrets(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir }), silent)
  t.equal(second.jwtSecret, first.jwtSecret, 'same JWT secret on a second call')
  t.same(second.tfa.encryptionKey, first.tfa.encryptionKey, 'same TOTP key on a second call')

  // Concurrent first starts agree on one secret ('wx').
  const fresh = path.join(await tmp(), 'race')
  const raced = await Promise.all(Array.from({ length: 5 }, () => resolveLocalSecrets(loadConfig({ NODE_ENV: 'test', DATA_DIR: fresh }), silent)))
  t.equal(new Set(raced.map(c => c.jwtSecret)).size, 1, 'one JWT secret')
  t.equal(new Set(raced.map(c => c.tfa.encryptionKey?.key.toString('hex'))).size, 1, 'one TOTP key')

  // Configured secrets are used as they are and nothing is written.
  const configuredDir = path.join(await tmp(), 'configured')
  const key = Buffer.alloc(32, 3).toString('base64')
  const configured = await resolveLocalSecrets(loadConfig({ DATA_DIR: configuredDir, JWT_SECRET: 'j'.repeat(40), TOTP_ENCRYPTION_KEY: key }), { warn: () => t.fail('no warning expected') })
  t.equal(configured.jwtSecret, 'j'.repeat(40))
  t.same(configured.tfa.encryptionKey, { id: 'k1', key: Buffer.alloc(32, 3) })
  await t.rejects(stat(configuredDir), { code: 'ENOENT' }, 'nothing written')
})
