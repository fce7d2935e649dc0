// `npm run openapi`: writes openapi/openapi.json from the route schemas. `--check` fails when
// the committed file differs from what the code generates (run in CI).
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from '../app.js'
import { loadConfig } from '../config/config.js'
import { resolveLocalSecrets } from '../config/local-secrets.js'

const target = path.resolve(import.meta.dirname, '../../openapi/openapi.json')
const check = process.argv.includes('--check')

// The routes and schemas alone (no database, no Redis): quick, and nothing to wait for. The scratch
// directory takes the development keys that resolveLocalSecrets writes.
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'twofold-openapi-'))
const silent = { warn: () => {} }
const config = await resolveLocalSecrets(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent', DATA_DIR: dataDir, BCRYPT_COST: '4' }), silent)
const app = await buildApp(config, { documentOnly: true })
await app.ready()
const generated = JSON.stringify(app.swagger(), null, 2) + '\n'
await app.close()
await rm(dataDir, { recursive: true, force: true })

if (check) {
  const committed = await readFile(target, 'utf8').catch(() => '')
  if (committed !== generated) {
    console.error('openapi/openapi.json is out of date: run `npm run openapi` and commit the result.')
    process.exit(1)
  }
  console.log('openapi/openapi.json matches the code.')
} else {
  await mkdir(path.dirname(target), { recursive: true })
  await writeFile(target, generated)
  console.log(`Wrote ${path.relative(process.cwd(), target)}`)
}
