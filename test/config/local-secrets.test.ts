import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { thumbprint } from '../../src/config/jwt-keys.js'
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

  const signingKey = first.jwt.signingKey!
  t.equal(signingKey.alg, 'EdDSA', 'the default algorithm')
  t.equal(signingKey.privateKey.asymmetricKeyType, 'ed25519', 'an Ed25519 key')
  t.equal(signingKey.kid, thumbprint(signingKey.verify.key), 'its kid is the RFC 7638 thumbprint')
  t.equal(first.tfa.encryptionKey?.key.length, 32, 'a 256-bit TOTP key')
  t.equal(first.tfa.encryptionKey?.id, 'local')
  t.same(first.tfa.decryptionKeys.get('local'), first.tfa.encryptionKey?.key, 'usable for decryption')
  t.equal(warnings.length, 2, 'each generated secret is announced')
  const pem = signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  for (const w of warnings) {
    t.notMatch(w, pem.split('\n')[1] ?? '-', 'warning does not contain the key')
    t.notMatch(w, first.tfa.encryptionKey?.key.toString('base64') ?? '-', 'warning does not contain the key')
  }
  t.equal(config.jwt.signingKey, undefined, 'the input config is not mutated')
  t.equal(config.tfa.encryptionKey, undefined)
  t.notOk(config.tfa.decryptionKeys.has('local'))

  for (const name of ['jwt-signing-key-eddsa.pem', 'totp-encryption-key']) {
    const info = await stat(path.join(dataDir, name))
    t.equal(info.mode & 0o777, 0o600, `${name} is mode 0600`)
  }
  t.equal((await readFile(path.join(dataDir, 'jwt-signing-key-eddsa.pem'), 'utf8')).trim(), pem.trim())
  t.equal((await stat(dataDir)).mode & 0o077, 0, 'DATA_DIR is not readable by others')

  const second = await resolveLocalSecrets(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir }), silent)
  t.equal(second.jwt.signingKey?.kid, signingKey.kid, 'same signing key on a second call')
  t.same(second.tfa.encryptionKey, first.tfa.encryptionKey, 'same TOTP key on a second call')

  // Each algorithm has its own file: switching locally never meets a key of the other kind.
  const es256 = await resolveLocalSecrets(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, JWT_ALGORITHM: 'ES256' }), silent)
  t.equal(es256.jwt.signingKey?.verify.key.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'ES256: a P-256 key')
  const hs256 = await resolveLocalSecrets(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, JWT_ALGORITHM: 'HS256' }), silent)
  t.equal(hs256.jwt.signingKey?.alg, 'HS256')
  t.ok((await readFile(path.join(dataDir, 'jwt-secret'), 'utf8')).trim().length >= 32, 'HS256: a strong secret, kept as before')
  t.equal(hs256.jwt.signingKey?.privateKey.export().toString(), (await readFile(path.join(dataDir, 'jwt-secret'), 'utf8')).trim())

  // Concurrent first starts agree on one key ('wx').
  const fresh = path.join(await tmp(), 'race')
  const raced = await Promise.all(Array.from({ length: 5 }, () => resolveLocalSecrets(loadConfig({ NODE_ENV: 'test', DATA_DIR: fresh }), silent)))
  t.equal(new Set(raced.map(c => c.jwt.signingKey?.kid)).size, 1, 'one signing key')
  t.equal(new Set(raced.map(c => c.tfa.encryptionKey?.key.toString('hex'))).size, 1, 'one TOTP key')

  // Configured secrets are used as they are and nothing is written.
  const configuredDir = path.join(await tmp(), 'configured')
  const key = Buffer.alloc(32, 3).toString('base64')
  const configuredPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const configured = await resolveLocalSecrets(loadConfig({ DATA_DIR: configuredDir, JWT_SIGNING_KEY: configuredPem, TOTP_ENCRYPTION_KEY: key }), { warn: () => t.fail('no warning expected') })
  t.equal(configured.jwt.signingKey?.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), configuredPem)
  t.same(configured.tfa.encryptionKey, { id: 'k1', key: Buffer.alloc(32, 3) })
  await t.rejects(stat(configuredDir), { code: 'ENOENT' }, 'nothing written')
})
