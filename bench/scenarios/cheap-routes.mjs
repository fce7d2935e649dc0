// Routes without a hash: GET /me against a bare Fastify hello-world, GET /tfa, GET /healthz, and
// what resource servers call: the JWKS and introspection.
import { bearer, logIn } from '../lib/api-client.mjs'
import { load, measure } from '../lib/load.mjs'
import { CHEAP_CONNECTIONS, D, log, PASSWORD } from '../lib/options.mjs'
import { startHelloServer, stop } from '../lib/servers.mjs'
import { INTROSPECTION_CLIENT } from '../lib/service-env.mjs'
import { combine } from '../lib/summary.mjs'

export async function cheapRoutes ({ server, wrongCodeUser, code }) {
  log('cheap routes')
  // A token as a client gets it: one TFA login of a user with TFA on (its code's step is later
  // than any it used before, so no replay).
  const headers = bearer(await logIn(server.base, { username: wrongCodeUser.username, password: PASSWORD, totp: code(wrongCodeUser.secret) }))
  // Enough connections that the server, not the round trip, is the limit.
  const cheap = { duration: Math.max(1, D / 2), connections: CHEAP_CONNECTIONS }
  const hello = await startHelloServer()
  // GET /me and hello-world in alternating blocks, so their ratio compares like with like.
  const me = []
  const helloRuns = []
  // autocannon counts whole seconds: blocks of 1 s.
  for (let round = 0; round < Math.max(1, Math.round(D / 2)); round++) {
    me.push(await measure(server.pid, () => load({ url: `${server.base}/me`, ...cheap, duration: 1, headers })))
    helloRuns.push(await measure(hello.pid, () => load({ url: `${hello.base}/`, ...cheap, duration: 1 })))
  }
  await stop(hello.child)
  const tfaStatus = await measure(server.pid, () => load({ url: `${server.base}/tfa`, ...cheap, headers }))
  const healthz = await measure(server.pid, () => load({ url: `${server.base}/healthz`, ...cheap }))
  const jwks = await measure(server.pid, () => load({ url: `${server.base}/.well-known/jwks.json`, ...cheap }))
  // A resource server asking about the same token again and again (the token cache's case, like GET /me).
  const introspect = await measure(server.pid, () => load({
    url: `${server.base}/introspect`,
    ...cheap,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${INTROSPECTION_CLIENT.id}:${INTROSPECTION_CLIENT.secret}`).toString('base64')}` },
    body: new URLSearchParams({ token: headers.authorization.slice('Bearer '.length) }).toString()
  }))
  return { me: combine(me), helloWorld: combine(helloRuns), tfaStatus, healthz, jwks, introspect }
}
