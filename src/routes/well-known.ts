import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ENROLL_SCOPE } from '../auth/tokens.js'

/**
 * How long resource servers may keep the JWKS. The rotation procedure (README) waits this long
 * between publishing a new key and signing with it, so every cache holds the key before any
 * token it signed can arrive.
 */
export const JWKS_MAX_AGE_SECONDS = 300

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const base = app.config.jwt.issuer.replace(/\/+$/, '')
  const jwks = app.accessTokens.jwks
  const metadata = {
    issuer: app.config.jwt.issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    token_endpoint: `${base}/token`,
    introspection_endpoint: `${base}/introspect`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
    response_types_supported: [],
    // Omitted, RFC 8414 would mean authorization_code and implicit: twofold offers neither.
    grant_types_supported: [],
    scopes_supported: [ENROLL_SCOPE],
    service_documentation: `${base}/docs`
  }
  const cacheControl = `public, max-age=${JWKS_MAX_AGE_SECONDS}`

  app.get('/.well-known/jwks.json', {
    schema: {
      tags: ['token-verification'],
      operationId: 'getJwks',
      summary: 'The public keys that verify access tokens (JWK Set, RFC 7517)',
      description: 'Pick the key by the token\'s `kid`. During a rotation the set holds the current key and the ones still ' +
        `accepted. Cacheable for ${JWKS_MAX_AGE_SECONDS} s (\`Cache-Control\`): the rotation procedure waits that long before signing with a new key.`,
      response: {
        200: Type.Ref('Jwks', {
          description: 'The public keys.',
          headers: { 'Cache-Control': { type: 'string', description: `\`${cacheControl}\`` } }
        })
      }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', cacheControl)
    return jwks
  })

  app.get('/.well-known/oauth-authorization-server', {
    schema: {
      tags: ['token-verification'],
      operationId: 'getAuthorizationServerMetadata',
      summary: 'Authorization server metadata (RFC 8414): issuer, JWKS, token and introspection endpoints',
      response: { 200: Type.Ref('AuthorizationServerMetadata', { description: 'The metadata; URLs are built from JWT_ISSUER.' }) }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', cacheControl)
    return metadata
  })
}

export default routes
