import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { thumbprint } from '../../src/config/jwt-keys.js'
import { configError, PRODUCTION } from './config-helpers.js'

const ed = () => generateKeyPairSync('ed25519')
const ec = (namedCurve = 'prime256v1') => generateKeyPairSync('ec', { namedCurve })
const pem = (key: { export: (o: { type: 'pkcs8' | 'spki', format: 'pem' }) => string | Buffer }, type: 'pkcs8' | 'spki' = 'pkcs8') => key.export({ type, format: 'pem' }).toString()

t.test('defaults: EdDSA, issuer from HOST/PORT, the issuer as audience', async (t) => {
  const config = loadConfig({})
  t.equal(config.jwt.algorithm, 'EdDSA')
  t.equal(config.jwt.issuer, 'http://127.0.0.1:3000')
  t.same(config.jwt.audiences, ['http://127.0.0.1:3000'])
  t.equal(loadConfig({ HOST: '0.0.0.0', PORT: '8080' }).jwt.issuer, 'http://localhost:8080', 'a wildcard address is no URL: localhost')
  t.equal(loadConfig({ HOST: '::1' }).jwt.issuer, 'http://[::1]:3000')
  const set = loadConfig({ JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'https://api.example.com, https://billing.example.com' })
  t.equal(set.jwt.issuer, 'https://auth.example.com')
  t.same(set.jwt.audiences, ['https://api.example.com', 'https://billing.example.com'], 'one audience or a list')
  for (const bad of ['auth.example.com', 'ftp://x', 'https://x/?a=1', 'https://x/#f']) {
    t.equal(configError(t, { JWT_ISSUER: bad }).variable, 'JWT_ISSUER', `refuses ${bad}`)
  }
  t.equal(configError(t, { JWT_AUDIENCE: 'a,,b' }).variable, 'JWT_AUDIENCE')
  t.equal(configError(t, { JWT_ALGORITHM: 'RS256' }).variable, 'JWT_ALGORITHM')
  t.equal(configError(t, { JWT_ALGORITHM: 'none' }).variable, 'JWT_ALGORITHM')
})

t.test('a signing key as PEM or JWK, inline or from a file, its kid the thumbprint unless named', async (t) => {
  const { privateKey, publicKey } = ed()
  const fromPem = loadConfig({ JWT_SIGNING_KEY: pem(privateKey) }).jwt.signingKey!
  t.equal(fromPem.alg, 'EdDSA')
  t.equal(fromPem.kid, thumbprint(publicKey), 'RFC 7638 thumbprint')
  t.ok(fromPem.verify.key.equals(publicKey))
  t.equal(loadConfig({ JWT_SIGNING_KEY: pem(privateKey).replace(/\n/g, '\\n') }).jwt.signingKey!.kid, fromPem.kid, 'a PEM with literal \\n (an env file)')
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'key-2026' }
  t.equal(loadConfig({ JWT_SIGNING_KEY: JSON.stringify(jwk) }).jwt.signingKey!.kid, 'key-2026', 'a JWK keeps its kid')
  t.equal(loadConfig({ JWT_SIGNING_KEY: pem(privateKey), JWT_KEY_ID: 'k7' }).jwt.signingKey!.kid, 'k7', 'JWT_KEY_ID names it')
  t.equal(configError(t, { JWT_SIGNING_KEY: JSON.stringify(jwk), JWT_KEY_ID: 'other' }).variable, 'JWT_SIGNING_KEY', 'a JWK kid and JWT_KEY_ID must agree')
  t.equal(configError(t, { JWT_KEY_ID: 'k1' }).variable, 'JWT_KEY_ID', 'a kid without a key')

  const dir = await mkdtemp(path.join(tmpdir(), 'twofold-jwt-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'signing.pem')
  await writeFile(file, pem(privateKey))
  t.equal(loadConfig({ JWT_SIGNING_KEY_FILE: file }).jwt.signingKey!.kid, fromPem.kid, 'from a file (a container secret)')
  t.equal(configError(t, { JWT_SIGNING_KEY_FILE: path.join(dir, 'missing.pem') }).variable, 'JWT_SIGNING_KEY_FILE')
  t.equal(configError(t, { JWT_SIGNING_KEY_FILE: file, JWT_SIGNING_KEY: pem(privateKey) }).variable, 'JWT_SIGNING_KEY_FILE', 'not both')
  const broken = path.join(dir, 'broken.pem')
  await writeFile(broken, 'not a key\n')
  t.equal(configError(t, { JWT_SIGNING_KEY_FILE: broken }).variable, 'JWT_SIGNING_KEY_FILE', 'a file\'s bad key names the file\'s variable')
  t.equal(configError(t, { NODE_ENV: 'production', JWT_SIGNING_KEY_FILE: file }).problems.some(p => p.variable.startsWith('JWT_SIGNING_KEY')), false, 'production: the key from a file is the key')

  const es = loadConfig({ JWT_ALGORITHM: 'ES256', JWT_SIGNING_KEY: pem(ec().privateKey) }).jwt.signingKey!
  t.equal(es.alg, 'ES256')
  t.equal(es.verify.jwk?.crv, 'P-256')
})

t.test('boot refuses a key that does not fit the algorithm, naming the variable and never the key', async (t) => {
  const edKey = pem(ed().privateKey)
  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    ['EC key for EdDSA', { JWT_SIGNING_KEY: pem(ec().privateKey) }, 'JWT_SIGNING_KEY', /P-256.*EdDSA needs an Ed25519 key/],
    ['Ed25519 key for ES256', { JWT_ALGORITHM: 'ES256', JWT_SIGNING_KEY: edKey }, 'JWT_SIGNING_KEY', /ed25519.*ES256 needs an EC P-256 key/],
    ['P-384 for ES256', { JWT_ALGORITHM: 'ES256', JWT_SIGNING_KEY: pem(ec('secp384r1').privateKey) }, 'JWT_SIGNING_KEY', /secp384r1/],
    ['RSA', { JWT_SIGNING_KEY: pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey) }, 'JWT_SIGNING_KEY', /rsa/],
    ['a public key', { JWT_SIGNING_KEY: pem(ed().publicKey, 'spki') }, 'JWT_SIGNING_KEY', /public key/],
    ['garbage', { JWT_SIGNING_KEY: 'not a key at all' }, 'JWT_SIGNING_KEY', /neither PEM nor JSON/],
    ['a broken PEM', { JWT_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }, 'JWT_SIGNING_KEY', /not a readable/],
    ['two keys', { JWT_SIGNING_KEY: edKey + pem(ed().privateKey) }, 'JWT_SIGNING_KEY', /exactly one/],
    ['a JWK whose alg lies', { JWT_SIGNING_KEY: JSON.stringify({ ...ed().privateKey.export({ format: 'jwk' }), alg: 'ES256' }) }, 'JWT_SIGNING_KEY', /"alg"/],
    ['a signing key with HS256', { JWT_ALGORITHM: 'HS256', JWT_SIGNING_KEY: edKey }, 'JWT_SIGNING_KEY', /JWT_SECRET/],
    ['verification keys with HS256', { JWT_ALGORITHM: 'HS256', JWT_VERIFICATION_KEYS: pem(ed().publicKey, 'spki') }, 'JWT_VERIFICATION_KEYS', /never published/],
    ['a leftover JWT_SECRET', { JWT_SECRET: 's'.repeat(40) }, 'JWT_SECRET', /JWT_ALGORITHM=HS256/],
    ['a bad verification key', { JWT_VERIFICATION_KEYS: pem(ec('secp384r1').publicKey, 'spki') }, 'JWT_VERIFICATION_KEYS', /only Ed25519/]
  ]
  for (const [name, env, variable, message] of cases) {
    const err = configError(t, env)
    t.equal(err.variable, variable, `${name}: names ${variable}`)
    t.match(err.message, message, name)
    const secret = Object.values(env).find(v => v.includes('KEY-----'))
    if (secret !== undefined) t.notMatch(err.message + String(err.stack), secret.split('\n')[1] ?? '-', `${name}: the key is not quoted`)
  }
})

t.test('production: the key that JWT_ALGORITHM needs', async (t) => {
  const { JWT_SIGNING_KEY: _, ...withoutKey } = PRODUCTION
  t.equal(configError(t, withoutKey).variable, 'JWT_SIGNING_KEY')
  t.equal(configError(t, { ...withoutKey, JWT_ALGORITHM: 'HS256' }).variable, 'JWT_SECRET')
  t.equal(loadConfig({ ...withoutKey, JWT_ALGORITHM: 'HS256', JWT_SECRET: 'x'.repeat(40) }).jwt.signingKey?.alg, 'HS256', 'HS256 as before')
  t.match(loadConfig(PRODUCTION).jwt.issuerWarning, /JWT_ISSUER is not set/, 'an issuer derived from HOST/PORT is announced in production')
  t.equal(loadConfig({ ...PRODUCTION, JWT_ISSUER: 'https://auth.example.com' }).jwt.issuerWarning, undefined)
  t.equal(loadConfig({}).jwt.issuerWarning, undefined, 'not outside production')
})

t.test('verification keys: a JWK Set, a JSON array or PEM blocks; public halves only; one key per kid', async (t) => {
  const current = ed()
  const previous = ed()
  const next = ec()
  const signing = { JWT_SIGNING_KEY: pem(current.privateKey) }
  const jwks = JSON.stringify({ keys: [{ ...previous.publicKey.export({ format: 'jwk' }), kid: 'old' }, next.privateKey.export({ format: 'jwk' })] })
  const set = loadConfig({ ...signing, JWT_VERIFICATION_KEYS: jwks }).jwt.verificationKeys
  t.same(set.map(k => k.kid), ['old', thumbprint(next.publicKey)])
  t.same(set.map(k => k.alg), ['EdDSA', 'ES256'], 'each key pinned to its own algorithm')
  t.equal(set[1]!.key.type, 'public', 'a private key listed is kept as its public half')
  t.notOk('d' in (set[1]!.jwk as object), 'nothing private to publish')
  const blocks = loadConfig({ ...signing, JWT_VERIFICATION_KEYS: pem(previous.publicKey, 'spki') + '\n' + pem(next.publicKey, 'spki') }).jwt.verificationKeys
  t.same(blocks.map(k => k.kid), [thumbprint(previous.publicKey), thumbprint(next.publicKey)], 'PEM blocks, kid by thumbprint')
  const array = loadConfig({ ...signing, JWT_VERIFICATION_KEYS: JSON.stringify([previous.publicKey.export({ format: 'jwk' })]) }).jwt.verificationKeys
  t.equal(array.length, 1)
  const same = loadConfig({ ...signing, JWT_VERIFICATION_KEYS: pem(current.publicKey, 'spki') }).jwt.verificationKeys
  t.same(same, [], 'the signing key listed again is harmless')
  const clash = JSON.stringify({ keys: [{ ...previous.publicKey.export({ format: 'jwk' }), kid: 'k' }] })
  t.equal(configError(t, { JWT_SIGNING_KEY: pem(current.privateKey), JWT_KEY_ID: 'k', JWT_VERIFICATION_KEYS: clash }).variable, 'JWT_VERIFICATION_KEYS', 'two keys under one kid')
  const dir = await mkdtemp(path.join(tmpdir(), 'twofold-jwt-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'none'), '\n')
  t.same(loadConfig({ ...signing, JWT_VERIFICATION_KEYS_FILE: path.join(dir, 'none') }).jwt.verificationKeys, [], 'an empty file: no other key')
  await writeFile(path.join(dir, 'old.pem'), pem(previous.publicKey, 'spki'))
  t.equal(loadConfig({ ...signing, JWT_VERIFICATION_KEYS_FILE: path.join(dir, 'old.pem') }).jwt.verificationKeys.length, 1, 'from a file')
  t.equal(configError(t, { JWT_VERIFICATION_KEYS: '{"keys": []}' }).variable, 'JWT_VERIFICATION_KEYS', 'an empty set')
  t.equal(configError(t, { JWT_VERIFICATION_KEYS: '{"keys": [' }).variable, 'JWT_VERIFICATION_KEYS', 'broken JSON')
})

t.test('INTROSPECTION_CLIENTS', async (t) => {
  const secret = 'a'.repeat(32)
  t.same([...loadConfig({ INTROSPECTION_CLIENTS: `billing:${secret}, orders:${'b'.repeat(40)}` }).introspection.clients.keys()], ['billing', 'orders'])
  t.equal(loadConfig({}).introspection.clients.size, 0, 'none by default: every call is 401')
  for (const bad of ['billing', `billing:${'a'.repeat(31)}`, `bill ing:${secret}`, `billing:${'a'.repeat(31)}+`]) {
    const err = configError(t, { INTROSPECTION_CLIENTS: bad })
    t.equal(err.variable, 'INTROSPECTION_CLIENTS')
    t.notMatch(err.message, 'aaaaaaaa', 'the secret is not quoted')
  }
})
