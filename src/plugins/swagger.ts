import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { readFileSync } from 'node:fs'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/**
 * The OpenAPI 3.1 document is generated from the route schemas (the same ones that validate and
 * serialise), so it can't drift from the code; `npm run openapi` commits it to openapi/.
 */
export default fp(async function swaggerPlugin (app) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'twofold',
        version,
        description: 'Password + TOTP two-factor authentication over REST/JSON. Every error has the same envelope (`Error`). ' +
          'This document, for tools and code generators: [/openapi.json](/openapi.json).'
      },
      servers: [{ url: '/', description: 'The twofold instance serving this document' }],
      tags: [
        { name: 'authentication', description: 'Logging in' },
        { name: 'users', description: 'Registration and the current user' },
        { name: 'two-factor', description: 'Enrolment, status and recovery codes of the TOTP second factor' },
        { name: 'sessions', description: 'The logins that last: list them, end one, end all others, log out' },
        { name: 'api-keys', description: 'Keys for scripts and automated processes, exchanged at POST /token' },
        { name: 'admin', description: 'Support desk: find users, reset or unlock their TFA, read their events (role admin)' },
        { name: 'operations', description: 'Health and readiness probes' },
        { name: 'token-verification', description: 'For the services behind twofold: the public keys (JWKS), the RFC 8414 metadata, and introspection' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access_token from POST /login (or POST /token): an RFC 9068 JWT signed with JWT_ALGORITHM (EdDSA by default), verifiable with GET /.well-known/jwks.json.' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'An API key from POST /api-keys, sent as `Authorization: ApiKey twofold_ak_…`.' },
          introspectionBasic: { type: 'http', scheme: 'basic', description: 'A resource server\'s client id and secret from INTROSPECTION_CLIENTS (RFC 6749 §2.3.1 client_secret_basic).' }
        }
      }
    },
    transformObject: (documentObject) => documentBearerUnavailable(markOptionalBodies(('openapiObject' in documentObject ? documentObject.openapiObject : {}) as OpenApiDocument)),
    // Stable component names from each shared schema's $id instead of def-0, def-1…
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // The UI's own policy asks browsers to upgrade every request to https: over plain HTTP on any
    // host but localhost (a VM opened by its IP) the assets then fail and the page stays white.
    // TLS is the proxy's business; this page must work behind one and without.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
    // The document the README names, relative to /docs so a path prefix in front still works.
    uiConfig: { urls: [{ url: '../openapi.json', name: '/openapi.json' }] }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'swagger' })

interface Operation {
  'x-optional-body'?: boolean
  requestBody?: { required?: boolean }
  security?: Array<Record<string, unknown>>
  responses?: Record<string, unknown>
}
interface OpenApiDocument { paths?: Record<string, Record<string, Operation>> }

const BEARER_UNAVAILABLE = 'This instance cannot check for ended sessions right now (it lost its feed from Redis), or a ' +
  'backing service is down: retry after `Retry-After`.'

/**
 * Every Bearer route may answer 503: `authenticate` refuses to trust a stale revocation list.
 * Said once here rather than on each route, so a new route can't forget it.
 */
function documentBearerUnavailable (document: OpenApiDocument): OpenApiDocument {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (operation.security?.some(s => 'bearerAuth' in s) !== true || operation.responses === undefined || '503' in operation.responses) continue
      operation.responses['503'] = { description: BEARER_UNAVAILABLE, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
    }
  }
  return document
}

/**
 * @fastify/swagger marks every declared body required; a route that accepts no body at all
 * (its preValidation defaults it) says so with `x-optional-body`, turned here into the standard field.
 */
function markOptionalBodies (document: OpenApiDocument): OpenApiDocument {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (operation['x-optional-body'] !== true) continue
      delete operation['x-optional-body']
      if (operation.requestBody !== undefined) operation.requestBody.required = false
    }
  }
  return document
}
