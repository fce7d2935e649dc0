import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config/config.js'
import { resolveLocalSecrets } from '../src/config/local-secrets.js'
import { testConfig } from './helper.js'

const tmp = async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'twofold-embedded-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}
const silent = { warn: () => {} }

t.test('one command: embedded PostgreSQL and in-process store, persisted across restarts', async (t) => {
  const dataDir = await tmp()
  // No DATABASE_URL, REDIS_URL or secrets: what `npm start` on a fresh clone gets.
  const config = await resolveLocalSecrets(testConfig({ DATABASE_URL: undefined, REDIS_URL: undefined, JWT_SECRET: undefined, TOTP_ENCRYPTION_KEY: undefined, DATA_DIR: dataDir }), silent)
  t.equal(config.databaseUrl, undefined)
  t.equal(config.redisUrl, undefined)

  const app = await buildApp(config)
  let closed = false
  t.teardown(async () => { if (!closed) await app.close() })
  await app.ready()
  t.equal(app.databaseMode, 'embedded')
  t.equal(app.store.kind, 'memory')
  t.equal(app.redis, undefined, 'no Redis connection')

  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', database: 'embedded', store: 'memory' })

  const created = await app.inject({ method: 'POST', url: '/users', payload: { username: 'Embedded', password: 'correct horse' } })
  t.equal(created.statusCode, 201)
  const user = created.json() as { id: string }
  const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'embedded', password: 'correct horse' } })
  t.equal(login.statusCode, 200)
  const token = (login.json() as { access_token: string }).access_token
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'embedded', password: 'wrong horse' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/users', payload: { username: 'EMBEDDED', password: 'correct horse' } })).statusCode, 409, 'unique index works')
  t.ok((await stat(path.join(dataDir, 'pglite'))).isDirectory(), 'the database lives in DATA_DIR')

  await app.close()
  closed = true

  // A restart on the same DATA_DIR, with the secrets resolved again from the files.
  const again = await resolveLocalSecrets(testConfig({ DATABASE_URL: undefined, REDIS_URL: undefined, JWT_SECRET: undefined, TOTP_ENCRYPTION_KEY: undefined, DATA_DIR: dataDir }), silent)
  const restarted = await buildApp(again)
  t.teardown(() => restarted.close())
  await restarted.ready()
  const relogin = await restarted.inject({ method: 'POST', url: '/login', payload: { username: 'embedded', password: 'correct horse' } })
  t.equal(relogin.statusCode, 200, 'the user survived the restart')
  const me = await restarted.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } })
  t.equal(me.statusCode, 200, 'a token from before the restart is still valid (same persisted secret)')
  t.same(me.json(), { id: user.id, username: 'embedded' })
})

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
