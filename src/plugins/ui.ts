import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

// Built by `npm run build` (vite, from ui/); the same place whether this runs from src/ or dist/.
export const UI_ROOT = fileURLToPath(new URL('../../dist/ui/', import.meta.url))

/**
 * The page runs no inline script and loads nothing from elsewhere; the QR code is a data: image.
 * connect-src 'self': this copy of the UI talks to the instance serving it.
 */
export const UI_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"
].join('; ')

/** The reference UI at /ui/ (UI_ENABLED): static files with a strict Content-Security-Policy. */
export default async function uiRoutes (app: FastifyInstance) {
  if (!app.config.ui.enabled) return
  if (!existsSync(`${UI_ROOT}index.html`)) {
    app.log.warn({ root: UI_ROOT }, 'UI_ENABLED but the UI is not built (npm run build): /ui/ is not served')
    return
  }
  await app.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: '/ui/',
    decorateReply: false,
    schemaHide: true,
    // Hashed asset names may be cached for good; index.html must be asked for again.
    setHeaders (reply, path) {
      reply.header('content-security-policy', UI_CSP)
      reply.header('x-content-type-options', 'nosniff')
      reply.header('referrer-policy', 'no-referrer')
      reply.header('cache-control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable')
    }
  })
  app.get('/ui', { schema: { hide: true } }, async (_request, reply) => await reply.redirect('/ui/', 301))
}
