// The documentation a running instance serves, over a real socket: Swagger UI at /docs wired to
// the document, and /openapi.json equal to the committed openapi/openapi.json (a drift check on
// the running app, next to `npm run openapi:check`).
import t from 'tap'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { buildTestApp } from '../helper.js'

const committed: unknown = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))

const app = await buildTestApp(t)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo
const base = `http://127.0.0.1:${port}`

t.test('GET /docs is Swagger UI loading the served document', async (t) => {
  const page = await fetch(`${base}/docs`, { redirect: 'follow' })
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  const html = await page.text()
  t.match(html, /<title>Swagger UI<\/title>/)
  const initializerSrc = /<script[^>]+src="([^"]*swagger-initializer\.js)"/.exec(html)?.[1]
  t.ok(initializerSrc, 'the page loads the swagger-ui initializer')

  // The initializer points the UI at ./json, relative to the page's directory: /docs/json.
  const initializer = await fetch(new URL(initializerSrc ?? '', page.url.endsWith('/') ? page.url : `${page.url}/`), { redirect: 'follow' })
  t.equal(initializer.status, 200)
  t.match(initializer.headers.get('content-type'), /javascript/)
  t.match(await initializer.text(), /resolveUrl\('\.\/json'\)/)

  const json = await fetch(`${base}/docs/json`)
  t.equal(json.status, 200)
  t.match(json.headers.get('content-type'), /^application\/json/)
  t.strictSame(await json.json(), committed, '/docs/json is the committed document')
})

t.test('GET /openapi.json is the committed openapi/openapi.json', async (t) => {
  const res = await fetch(`${base}/openapi.json`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^application\/json/)
  t.strictSame(await res.json(), committed, 'run `npm run openapi` and commit the result if this fails')
})

t.test('the docs page works over plain HTTP on any address: a CSP without upgrade-insecure-requests', async (t) => {
  // Host header as a VM opened by its IP sends it: nothing on this path may depend on localhost.
  for (const path of ['/docs/', '/docs/static/index.html', '/docs/static/swagger-initializer.js']) {
    const res = await fetch(`${base}${path}`, { headers: { host: `203.0.113.7:${port}` } })
    t.equal(res.status, 200, path)
    const csp = res.headers.get('content-security-policy') ?? ''
    t.match(csp, /default-src 'self'/, `${path}: still a policy`)
    t.match(csp, /script-src 'self'/, `${path}: scripts only from the instance`)
    t.notMatch(csp, /upgrade-insecure-requests/, `${path}: assets are not forced onto https`)
  }
  const initializer = await (await fetch(`${base}/docs/static/swagger-initializer.js`)).text()
  t.match(initializer, /"url":"\.\.\/openapi\.json"/, 'the UI shows /openapi.json, the document the README names')
  t.match(initializer, /"name":"\/openapi\.json"/)
})

t.test('/ points at /docs and /ui/', async (t) => {
  const html = await fetch(`${base}/`, { headers: { accept: 'text/html,application/xhtml+xml' } })
  t.equal(html.status, 200)
  t.match(html.headers.get('content-type'), /^text\/html/)
  const page = await html.text()
  t.match(page, /href="docs"/)
  t.match(page, /href="ui\/"/)
  t.match(page, /href="openapi\.json"/)
  const json = await fetch(`${base}/`)
  t.equal(json.status, 200)
  t.strictSame(await json.json(), { docs: '/docs', openapi: '/openapi.json', ui: '/ui/' })
})
