import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { resolveLocalSecrets } from '../../src/config/local-secrets.js'
import { testConfig } from '../helper.js'

// The embedded defaults: no DATABASE_URL or REDIS_URL gives PGlite in DATA_DIR and the in-process store.
const tmp = async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'twofold-embedded-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}
const silent = { warn: () => {} }

t.test('one command: embedded PostgreSQL and in-process store, persisted across restarts', async (t) => {
  const dataDir = await tmp()
  // No DATABASE_URL, REDIS_URL or secrets: what `npm start` on a fresh clone gets.
  const config = await resolveLocalSecrets(testConfig({ DATABASE_URL: undefined, REDIS_URL: undefined, JWT_SIGNING_KEY: undefined, TOTP_ENCRYPTION_KEY: undefined, DATA_DIR: dataDir }), silent)
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
  const again = await resolveLocalSecrets(testConfig({ DATABASE_URL: undefined, REDIS_URL: undefined, JWT_SIGNING_KEY: undefined, TOTP_ENCRYPTION_KEY: undefined, DATA_DIR: dataDir }), silent)
  const restarted = await buildApp(again)
  t.teardown(() => restarted.close())
  await restarted.ready()
  const relogin = await restarted.inject({ method: 'POST', url: '/login', payload: { username: 'embedded', password: 'correct horse' } })
  t.equal(relogin.statusCode, 200, 'the user survived the restart')
  const me = await restarted.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } })
  t.equal(me.statusCode, 200, 'a token from before the restart is still valid (same persisted secret)')
  t.same(me.json(), { id: user.id, username: 'embedded' })
})
