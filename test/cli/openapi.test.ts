import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/config.js'
import { resolveLocalSecrets } from '../../src/config/local-secrets.js'
import { builtFile, ROOT as root } from '../built.js'

// `npm run openapi:check` generates the document from an app built with documentOnly: the routes
// and schemas, no database. test/e2e/docs.test.ts checks that a running instance serves the
// committed document; this file checks the document-only app gives the same one without ever
// starting PostgreSQL, so the check cannot wait on one.
const committed = readFileSync(path.join(root, 'openapi/openapi.json'), 'utf8')

t.test('documentOnly: the committed document, with no embedded PostgreSQL started and no Redis', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'twofold-openapi-test-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  // No DATABASE_URL: a full app would start PGlite in dataDir. REDIS_URL unset: the in-process store.
  const config = await resolveLocalSecrets(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent', DATA_DIR: dataDir, BCRYPT_COST: '4' }), { warn: () => {} })
  const app = await buildApp(config, { documentOnly: true })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(JSON.stringify(app.swagger(), null, 2) + '\n', committed, 'the document the running app serves (docs.test.ts)')
  t.notOk(existsSync(path.join(dataDir, 'pglite')), 'no embedded PostgreSQL was started')
  t.throws(() => app.prisma.user, { message: /documentOnly: true \}\) has no database \(prisma\.user\)/ }, 'a use of the database says why it fails')
})

t.test('the built CLI: --check passes on the committed files without waiting on services pointed nowhere', async (t) => {
  const cli = builtFile('cli/openapi.js')
  // The CLI takes its configuration from nothing in the environment: a DATABASE_URL or REDIS_URL
  // that answers nobody must not make it wait (a reported timeout, exit 124).
  const run = spawnSync(process.execPath, [cli, '--check'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgresql://postgres@10.255.255.1:5432/none', REDIS_URL: 'redis://10.255.255.1:6379' }
  })
  t.equal(run.signal, null, 'finished on its own')
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /openapi\/openapi\.json matches the code\./)
})
