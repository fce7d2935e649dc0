import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { UI_ROOT } from '../../src/plugins/ui.js'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'

// The UI is built by `npm run build`; a test run without it builds it first (about a second).
if (!existsSync(`${UI_ROOT}index.html`)) execFileSync('npm', ['run', '-s', 'build:ui'], { stdio: 'inherit' })

t.test('UI_ENABLED: on outside production, off in production unless set', async (t) => {
  t.equal(loadConfig({}).ui.enabled, true)
  t.equal(loadConfig({ UI_ENABLED: 'false' }).ui.enabled, false)
  const production = { NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/x', REDIS_URL: 'redis://r', JWT_ALGORITHM: 'HS256', JWT_SECRET: 'x'.repeat(32), TOTP_ENCRYPTION_KEY: `${'A'.repeat(43)}=` }
  t.equal(loadConfig(production).ui.enabled, false)
  t.equal(loadConfig({ ...production, UI_ENABLED: 'true' }).ui.enabled, true)
})

t.test('/ui/ serves the built page with a strict CSP and no inline script', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), UI_ENABLED: 'true' }))
  const redirect = await app.inject({ method: 'GET', url: '/ui' })
  t.equal(redirect.statusCode, 301)
  t.equal(redirect.headers.location, '/ui/')
  const index = await app.inject({ method: 'GET', url: '/ui/' })
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /text\/html/)
  const csp = String(index.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only: no inline, no eval')
  t.match(csp, /frame-ancestors 'none'/, 'not framable (clickjacking)')
  t.equal(index.headers['x-content-type-options'], 'nosniff')
  t.equal(index.headers['cache-control'], 'no-cache')
  t.notMatch(index.body, /<script(?![^>]*\ssrc=)[^>]*>/, 'every script has a src')
  t.notMatch(index.body, /\son[a-z]+=/i, 'no inline event handler')
  const script = readdirSync(`${UI_ROOT}assets`).find(f => f.endsWith('.js'))!
  const asset = await app.inject({ method: 'GET', url: `/ui/assets/${script}` })
  t.equal(asset.statusCode, 200)
  t.match(asset.headers['cache-control'], /immutable/)
  t.match(asset.headers['content-security-policy'], /default-src 'none'/)
  t.equal((await app.inject({ method: 'GET', url: '/ui/../package.json' })).statusCode, 404, 'nothing outside the UI folder')
})

t.test('UI_ENABLED=false: no /ui/', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), UI_ENABLED: 'false' }))
  t.equal((await app.inject({ method: 'GET', url: '/ui/' })).statusCode, 404)
})
