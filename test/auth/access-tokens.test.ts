import { createHmac, generateKeyPairSync, sign } from 'node:crypto'
import t from 'tap'
import { TokenRefused } from '../../src/auth/access-tokens.js'
import { loadConfig } from '../../src/config/config.js'
import { accessTokensFor } from '../helper.js'

const pkcs8 = (key: { export: (o: { type: 'pkcs8', format: 'pem' }) => string | Buffer }) => key.export({ type: 'pkcs8', format: 'pem' }).toString()
const spki = (key: { export: (o: { type: 'spki', format: 'pem' }) => string | Buffer }) => key.export({ type: 'spki', format: 'pem' }).toString()
const ISSUER = 'https://auth.example.com'
const claims = { sub: 'u1', username: 'ann', amr: ['pwd' as const], sid: 's1' }
const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
const pieces = (token: string) => {
  const [h, p, s] = token.split('.') as [string, string, string]
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()), h, p, s }
}

for (const algorithm of ['EdDSA', 'ES256'] as const) {
  t.test(`${algorithm}: RFC 9068 tokens, and every forgery refused`, async (t) => {
    const pair = algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const config = loadConfig({ JWT_ALGORITHM: algorithm, JWT_SIGNING_KEY: pkcs8(pair.privateKey), JWT_ISSUER: ISSUER, JWT_AUDIENCE: 'https://api.example.com,https://billing.example.com' })
    const tokens = await accessTokensFor(config.jwt)
    const token = tokens.sign(claims, 600)
    const { header, payload, h, p, s } = pieces(token)
    t.same(header, { alg: algorithm, typ: 'at+jwt', kid: tokens.kid }, 'header: alg, typ at+jwt, kid')
    t.match(payload, { ...claims, iss: ISSUER, aud: ['https://api.example.com', 'https://billing.example.com'], client_id: 'twofold', jti: String })
    t.equal(payload.exp - payload.iat, 600)
    t.match(tokens.verify(token), { sub: 'u1', sid: 's1' }, 'verifies')
    t.equal(Buffer.from(s, 'base64url').length, 64, 'a 64-byte signature (ES256 in R||S form, as JWS requires)')
    t.not(tokens.sign(claims, 600), token, 'a fresh jti every time')

    const refused = (name: string, forged: string) => t.throws(() => tokens.verify(forged), TokenRefused, name)
    const signed = (hdr: object, body: object) => {
      const input = `${part(hdr)}.${part(body)}`
      const signature = algorithm === 'EdDSA' ? sign(null, Buffer.from(input), pair.privateKey) : sign('sha256', Buffer.from(input), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' })
      return `${input}.${signature.toString('base64url')}`
    }
    t.ok(tokens.verify(signed(header, payload)), 'the hand-made construction is right')
    refused('tampered payload', `${h}.${part({ ...payload, sub: 'admin' })}.${s}`)
    refused('tampered signature', `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`)
    refused('signature with a character Buffer would skip', `${h}.${p}.${s}!`)
    refused('alg none', `${part({ ...header, alg: 'none' })}.${p}.`)
    refused('alg none with a signature', `${part({ ...header, alg: 'none' })}.${p}.${s}`)
    refused('HS256 keyed with the public key (algorithm confusion)', (() => {
      const input = `${part({ ...header, alg: 'HS256' })}.${p}`
      return `${input}.${createHmac('sha256', spki(pair.publicKey)).update(input).digest('base64url')}`
    })())
    refused('the other asymmetric algorithm named', signed({ ...header, alg: algorithm === 'EdDSA' ? 'ES256' : 'EdDSA' }, payload))
    refused('expired', signed(header, { ...payload, iat: payload.iat - 1000, exp: payload.iat - 1 }))
    refused('exp as a string', signed(header, { ...payload, exp: String(payload.exp) }))
    refused('issued in the future', signed(header, { ...payload, iat: payload.iat + 3600, exp: payload.exp + 3600 }))
    refused('wrong audience', signed(header, { ...payload, aud: 'https://other.example.com' }))
    refused('wrong issuer', signed(header, { ...payload, iss: 'https://evil.example.com' }))
    refused('typ JWT', signed({ ...header, typ: 'JWT' }, payload))
    refused('unknown kid', signed({ ...header, kid: 'nope' }, payload))
    refused('a critical header', signed({ ...header, crit: ['exp'] }, payload))
    refused('a critical header, even null', signed({ ...header, crit: null }, payload))
    refused('another key under our kid', await (async () => {
      const other = algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      return (await accessTokensFor(loadConfig({ JWT_ALGORITHM: algorithm, JWT_SIGNING_KEY: pkcs8(other.privateKey), JWT_ISSUER: ISSUER, JWT_KEY_ID: tokens.kid }).jwt)).sign(claims, 600)
    })())
    refused('two parts', `${h}.${p}`)
    refused('four parts', `${token}.x`)
    refused('a JSON array as payload', signed(header, [payload]))
    t.equal(tokens.verify(signed(header, { ...payload, aud: 'https://billing.example.com' })).sub, 'u1', 'one of the configured audiences is enough')

    t.same(tokens.jwks.keys.map(k => Object.keys(k).sort()), [algorithm === 'EdDSA' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']], 'public members only')
  })
}

t.test('rotation: old tokens verify with the previous key, new ones carry the new kid, a removed key no longer verifies', async (t) => {
  const keyA = generateKeyPairSync('ed25519')
  const keyB = generateKeyPairSync('ed25519')
  const env = { JWT_ISSUER: ISSUER }
  // Step 1: A signs, B is published ahead of the switch.
  const step1 = await accessTokensFor(loadConfig({ ...env, JWT_SIGNING_KEY: pkcs8(keyA.privateKey), JWT_VERIFICATION_KEYS: spki(keyB.publicKey) }).jwt)
  const beforeSwitch = step1.sign(claims, 600)
  t.equal(step1.jwks.keys.length, 2, 'the next key is published before it signs')
  // Step 2: B signs, A stays accepted.
  const step2 = await accessTokensFor(loadConfig({ ...env, JWT_SIGNING_KEY: pkcs8(keyB.privateKey), JWT_VERIFICATION_KEYS: spki(keyA.publicKey) }).jwt)
  const afterSwitch = step2.sign(claims, 600)
  t.not(pieces(afterSwitch).header.kid, pieces(beforeSwitch).header.kid, 'new tokens carry the new kid')
  t.equal(pieces(afterSwitch).header.kid, step2.kid)
  t.ok(step2.verify(beforeSwitch), 'a token signed before the switch still verifies')
  t.ok(step2.verify(afterSwitch))
  t.ok(step1.verify(afterSwitch), 'an instance not yet switched accepts the new tokens too (published in step 1)')
  // Step 3: A is removed once its tokens have expired.
  const step3 = await accessTokensFor(loadConfig({ ...env, JWT_SIGNING_KEY: pkcs8(keyB.privateKey) }).jwt)
  t.throws(() => step3.verify(beforeSwitch), TokenRefused, 'a key removed from the list no longer verifies')
  t.ok(step3.verify(afterSwitch))
  t.same(step3.jwks.keys.map(k => k.kid), [step2.kid], 'and is no longer published')
})

t.test('HS256: the secret signs and verifies, and is never published', async (t) => {
  const tokens = await accessTokensFor(loadConfig({ JWT_ALGORITHM: 'HS256', JWT_SECRET: 'h'.repeat(40), JWT_ISSUER: ISSUER }).jwt)
  const token = tokens.sign(claims, 60)
  t.same(pieces(token).header, { alg: 'HS256', typ: 'at+jwt', kid: 'hs256' })
  t.ok(tokens.verify(token))
  t.same(tokens.jwks, { keys: [] })
})
