// A resource server that knows nothing of twofold but its public URLs: jose verifies the access
// tokens with the published keys, the issuer and its own audience (README "Verifying twofold's
// tokens in your service"). Prints {"port": N} once listening.
import { createServer } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'

const { TWOFOLD_ISSUER, AUDIENCE, JWKS_CACHE_MAX_AGE_MS } = process.env
const jwks = createRemoteJWKSet(new URL(`${TWOFOLD_ISSUER}/.well-known/jwks.json`), {
  cacheMaxAge: JWKS_CACHE_MAX_AGE_MS === undefined ? 600_000 : Number(JWKS_CACHE_MAX_AGE_MS)
})

async function verify (authorization = '') {
  const [scheme, token] = authorization.split(' ')
  if (scheme?.toLowerCase() !== 'bearer' || token === undefined) throw Object.assign(new Error('no token'), { code: 'ERR_NO_TOKEN' })
  return await jwtVerify(token, jwks, {
    issuer: TWOFOLD_ISSUER,
    audience: AUDIENCE,
    typ: 'at+jwt',
    algorithms: ['EdDSA', 'ES256']
  })
}

const server = createServer((request, response) => {
  verify(request.headers.authorization).then(({ payload, protectedHeader }) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ sub: payload.sub, sid: payload.sid, kid: protectedHeader.kid }))
  }, (err) => {
    response.writeHead(401, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: err.code ?? 'ERR_UNKNOWN' }))
  })
})
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n') })
process.on('SIGTERM', () => server.close(() => process.exit(0)))
