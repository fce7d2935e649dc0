import { Type } from '@sinclair/typebox'

/** One public key; the whitelist also makes sure nothing private (`d`) can ever be serialised. */
export const PublicJwkSchema = Type.Object({
  kty: Type.String({ description: '`OKP` (Ed25519) or `EC` (P-256).' }),
  crv: Type.String({ description: '`Ed25519` or `P-256`.' }),
  x: Type.String(),
  y: Type.Optional(Type.String({ description: 'EC keys only.' })),
  kid: Type.String({ description: 'The `kid` in the header of the tokens this key verifies.' }),
  alg: Type.Union([Type.Literal('EdDSA'), Type.Literal('ES256')]),
  use: Type.Literal('sig')
}, { $id: 'PublicJwk', additionalProperties: false })

export const JwksSchema = Type.Object({
  keys: Type.Array(Type.Ref('PublicJwk'), { description: 'The signing key and every key still accepted (previous ones, and the next one before a switch). Empty with JWT_ALGORITHM=HS256: a shared secret is never published.' })
}, { $id: 'Jwks', additionalProperties: false })

export const AuthorizationServerMetadataSchema = Type.Object({
  issuer: Type.String({ description: 'The `iss` of every token (JWT_ISSUER).' }),
  jwks_uri: Type.String(),
  token_endpoint: Type.String({ description: 'POST /token: an API key exchanged for an access token (interactive logins use POST /login).' }),
  introspection_endpoint: Type.String(),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String(), { description: 'None: twofold has no authorization endpoint.' }),
  grant_types_supported: Type.Array(Type.String(), { description: 'None of OAuth\'s grant types: POST /token exchanges an API key sent as `Authorization: ApiKey …`.' }),
  scopes_supported: Type.Array(Type.String()),
  service_documentation: Type.String()
}, { $id: 'AuthorizationServerMetadata', additionalProperties: false })

export const IntrospectionBodySchema = Type.Object({
  token: Type.String({ maxLength: 8192, description: 'The access token to look at.' }),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64, description: 'Ignored: only access tokens are introspected (RFC 7662 §2.1 lets the server ignore it).' }))
})

export const IntrospectionResponseSchema = Type.Object({
  active: Type.Boolean({ description: 'False for anything expired, revoked (logout, ended session, revoked API key), malformed, or not issued here; then no other field is present.' }),
  sub: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  auth_time: Type.Optional(Type.Integer()),
  sid: Type.Optional(Type.String()),
  amr: Type.Optional(Type.Array(Type.String())),
  client_id: Type.Optional(Type.String({ description: '`twofold` for a login\'s token, the API key\'s id for one from POST /token.' })),
  scope: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.Literal('Bearer')),
  iss: Type.Optional(Type.String()),
  aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  jti: Type.Optional(Type.String())
}, { $id: 'IntrospectionResponse', additionalProperties: false })
