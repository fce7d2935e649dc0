import type { FastifyPluginAsync } from 'fastify'

// Where a person who opens the service's address should go next. The UI is served under /ui/.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>twofold</title></head>
<body>
<h1>twofold</h1>
<ul>
<li><a href="ui/">The account pages</a> (/ui/)</li>
<li><a href="docs">The API documentation</a> (/docs), and the OpenAPI document: <a href="openapi.json">/openapi.json</a></li>
</ul>
</body></html>
`

const LINKS = { docs: '/docs', openapi: '/openapi.json', ui: '/ui/' }

/** `/`: a page of links for a browser, the same links as JSON for anything else. */
const routes: FastifyPluginAsync = async (app) => {
  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    reply.header('vary', 'accept')
    if (request.headers.accept?.includes('text/html') === true) {
      return await reply.type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; frame-ancestors 'none'")
        .send(PAGE)
    }
    return LINKS
  })
}

export default routes
