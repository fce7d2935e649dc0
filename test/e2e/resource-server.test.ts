// twofold and, in another process, a resource server built on jose that knows only twofold's
// public URLs: what it accepts and refuses, through a key rotation and a logout.
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { accessTokensFor, buildTestApp, createTestDatabase, freePort, sharedEnv, testConfig } from '../helper.js'
import { bearer, decodeClaims, decodeHeader, plainUser } from '../flows.js'

const keyA = generateKeyPairSync('ed25519')
const keyB = generateKeyPairSync('ed25519')
const pkcs8 = (pair: typeof keyA) => pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const spki = (pair: typeof keyA) => pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()

const port = await freePort()
const ISSUER = `http://127.0.0.1:${port}`
const AUDIENCE = 'https://orders.example.test'
const CLIENT = { id: 'orders', secret: 'orders-introspection-secret-0123456789' }
const shared = sharedEnv(await createTestDatabase(t), {
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: `${AUDIENCE},https://billing.example.test`,
  INTROSPECTION_CLIENTS: `${CLIENT.id}:${CLIENT.secret}`
})

/** twofold on the issuer's port, with the given keys (one deployment across restarts: same database, Redis, issuer). */
async function startTwofold (t: Test, keys: { JWT_SIGNING_KEY: string, JWT_VERIFICATION_KEYS?: string }) {
  const app = await buildTestApp(t, testConfig({ ...shared, ...keys }))
  await app.listen({ port, host: '127.0.0.1' })
  return app
}

// The resource server: its own process, jose, and nothing of twofold but the issuer URL.
const child = spawn(process.execPath, [new URL('./resource-server.mjs', import.meta.url).pathname], {
  env: { PATH: process.env.PATH ?? '', TWOFOLD_ISSUER: ISSUER, AUDIENCE, JWKS_CACHE_MAX_AGE_MS: '1000' },
  stdio: ['ignore', 'pipe', 'inherit']
})
t.teardown(() => { child.kill('SIGTERM') })
const rsPort = await new Promise<number>((resolve, reject) => {
  child.stdout.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { port: number }).port))
  child.once('exit', (code) => reject(new Error(`resource server exited (${code})`)))
})
const resource = async (token: string) => {
  const res = await fetch(`http://127.0.0.1:${rsPort}/orders`, { headers: bearer(token) })
  return { status: res.status, body: await res.json() as { sub?: string, kid?: string, error?: string } }
}
const introspect = async (token: string) => {
  const res = await fetch(`${ISSUER}/introspect`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token })
  })
  return { status: res.status, body: await res.json() as { active: boolean, sub?: string } }
}
const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')

t.test('a login\'s token is accepted, forgeries are refused, old and new tokens pass a rotation, a logout shows in introspection', async (t) => {
  // Rotation step 1: A signs, B is published ahead of the switch.
  let app = await startTwofold(t, { JWT_SIGNING_KEY: pkcs8(keyA), JWT_VERIFICATION_KEYS: spki(keyB) })
  const alice = await plainUser(app)
  const accepted = await resource(alice.token)
  t.equal(accepted.status, 200, 'a login\'s token is accepted')
  t.equal(accepted.body.sub, alice.id)

  const claims = decodeClaims<Record<string, unknown>>(alice.token)
  const [h, p, s] = alice.token.split('.') as [string, string, string]
  const refused = async (name: string, token: string, code?: string) => {
    const r = await resource(token)
    t.equal(r.status, 401, `${name}: refused (${r.body.error})`)
    if (code !== undefined) t.equal(r.body.error, code, name)
  }
  await refused('tampered payload', `${h}.${part({ ...claims, sub: 'someone-else' })}.${s}`, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
  await refused('tampered signature', `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`)
  await refused('alg none', `${part({ alg: 'none', typ: 'at+jwt', kid: decodeHeader(alice.token).kid })}.${p}.`)
  // Signed with twofold's own key, so only the claim can be what refuses them.
  const sameKey = async (env: Record<string, string>) => await accessTokensFor(loadConfig({ JWT_SIGNING_KEY: pkcs8(keyA), JWT_ISSUER: ISSUER, ...env }).jwt)
  const now = Math.floor(Date.now() / 1000)
  const aliceClaims = { sub: alice.id, username: alice.username, amr: ['pwd' as const], sid: claims.sid as string }
  await refused('expired', (await sameKey({ JWT_AUDIENCE: AUDIENCE })).sign(aliceClaims, 60, now - 120), 'ERR_JWT_EXPIRED')
  await refused('another audience', (await sameKey({ JWT_AUDIENCE: 'https://billing.example.test' })).sign(aliceClaims, 600), 'ERR_JWT_CLAIM_VALIDATION_FAILED')
  t.equal((await resource((await sameKey({ JWT_AUDIENCE: AUDIENCE })).sign(aliceClaims, 600))).status, 200, 'the same construction for its audience passes')
  const stranger = generateKeyPairSync('ed25519')
  await refused('another key', (await accessTokensFor(loadConfig({ JWT_SIGNING_KEY: stranger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }).jwt)).sign(aliceClaims, 600))

  // Step 2: B signs, A is still accepted, on every side.
  await app.close()
  app = await startTwofold(t, { JWT_SIGNING_KEY: pkcs8(keyB), JWT_VERIFICATION_KEYS: spki(keyA) })
  const bob = await plainUser(app)
  t.not(decodeHeader(bob.token).kid, decodeHeader(alice.token).kid, 'new tokens carry the new kid')
  t.equal((await resource(bob.token)).body.kid, decodeHeader(bob.token).kid, 'the new token passes the resource server')
  t.equal((await resource(alice.token)).status, 200, 'the token from before the switch still passes')
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(alice.token) })).statusCode, 200, 'and twofold itself')
  t.equal((await introspect(bob.token)).body.active, true)

  // A logout: a signature check can't see it before the token expires; introspection does at once.
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(bob.token) })).statusCode, 204)
  t.same((await introspect(bob.token)).body, { active: false }, 'after logout, introspection says inactive')
  t.equal((await resource(bob.token)).status, 200, '(the signature alone still verifies until exp: why introspection exists)')

  // Step 3: A is removed from the list (its tokens have expired by now, in a real rotation).
  await app.close()
  app = await startTwofold(t, { JWT_SIGNING_KEY: pkcs8(keyB) })
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(alice.token) })).statusCode, 401, 'a removed key no longer verifies at twofold')
  t.same((await introspect(alice.token)).body, { active: false })
  await sleep(1100) // the resource server's JWKS cache (1 s here, 10 min by default) runs out
  await refused('a removed key, once the resource server refetched the JWKS', alice.token, 'ERR_JWKS_NO_MATCHING_KEY')
  const carol = await plainUser(app)
  t.equal((await resource(carol.token)).status, 200, 'the current key still passes')
  await app.close()
})
