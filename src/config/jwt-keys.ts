import { createHash, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto'

export type JwtAlgorithm = 'EdDSA' | 'ES256' | 'HS256'
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['EdDSA', 'ES256', 'HS256']

/** A key that signs: the private key (or the HMAC secret) and what verifies it. */
export interface SigningKey { kid: string, alg: JwtAlgorithm, privateKey: KeyObject, verify: VerificationKey }

/** A key that verifies; `jwk` is its public half for the JWKS (absent for an HMAC secret: never published). */
export interface VerificationKey { kid: string, alg: JwtAlgorithm, key: KeyObject, jwk?: PublicJwk }

export interface PublicJwk { kty: string, crv: string, x: string, y?: string, kid: string, alg: JwtAlgorithm, use: 'sig' }

/** A key the configuration refuses; `detail` never quotes the key. */
export class KeyError extends Error {}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g

/** The algorithm an asymmetric key can sign for, or undefined (RSA, Ed448, other curves: not offered). */
function algorithmOf (key: KeyObject): JwtAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  return undefined
}

function describe (key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') return `an EC ${key.asymmetricKeyDetails?.namedCurve ?? ''} key`.replace('prime256v1', 'P-256')
  return `an ${key.asymmetricKeyType ?? 'unknown'} key`
}

const NEEDS: Record<JwtAlgorithm, string> = { EdDSA: 'an Ed25519 key', ES256: 'an EC P-256 key', HS256: 'a secret' }

/** RFC 7638 thumbprint: the default key id, the same wherever the key is configured. */
export function thumbprint (publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' })
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

function publicJwk (publicKey: KeyObject, kid: string, alg: JwtAlgorithm): PublicJwk {
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
  return { kty: kty!, crv: crv!, x: x!, ...(y !== undefined ? { y } : {}), kid, alg, use: 'sig' }
}

interface ParsedKey { key: KeyObject, private: boolean, kid?: string, alg?: string }

// Environment files can't hold line breaks: a PEM may come with literal "\n" instead.
const unescape = (text: string) => text.includes('-----BEGIN') ? text.replace(/\\n/g, '\n') : text

/** Every key in `text`: PEM blocks, one JWK, a JSON array of JWKs, or a JWK Set ({"keys": […]}). */
function parseKeys (text: string): ParsedKey[] {
  const trimmed = unescape(text).trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let json: unknown
    try {
      json = JSON.parse(trimmed)
    } catch {
      throw new KeyError('is not valid JSON (expected a JWK, a JWK Set or PEM)')
    }
    const list = Array.isArray(json) ? json : (json as { keys?: unknown }).keys !== undefined ? (json as { keys: unknown }).keys : [json]
    if (!Array.isArray(list) || list.length === 0) throw new KeyError('holds no key')
    return list.map(parseJwk)
  }
  const blocks = [...trimmed.matchAll(PEM_BLOCK)]
  if (blocks.length === 0) throw new KeyError('is neither PEM nor JSON (JWK)')
  return blocks.map(([pem, label]) => {
    try {
      if (label === 'PUBLIC KEY') return { key: createPublicKey(pem), private: false }
      return { key: createPrivateKey(pem), private: true }
    } catch {
      throw new KeyError(`holds a PEM block (${label}) that is not a readable unencrypted key`)
    }
  })
}

function parseJwk (jwk: unknown): ParsedKey {
  if (typeof jwk !== 'object' || jwk === null || typeof (jwk as JsonWebKey).kty !== 'string') throw new KeyError('holds a JWK without "kty"')
  const { kid, alg, d } = jwk as JsonWebKey & { kid?: unknown, alg?: unknown }
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw new KeyError('holds a JWK whose "kid" is not a non-empty string')
  try {
    const key = d !== undefined ? createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }) : createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    return { key, private: d !== undefined, kid: kid as string | undefined, alg: typeof alg === 'string' ? alg : undefined }
  } catch {
    throw new KeyError('holds a JWK that is not a valid key')
  }
}

function toVerificationKey (parsed: ParsedKey, expected?: JwtAlgorithm, kid?: string): VerificationKey {
  const publicKey = parsed.private ? createPublicKey(parsed.key) : parsed.key
  const alg = algorithmOf(publicKey)
  if (alg === undefined) throw new KeyError(`is ${describe(publicKey)}: only Ed25519 (EdDSA) and EC P-256 (ES256) keys are supported`)
  if (expected !== undefined && alg !== expected) throw new KeyError(`is ${describe(publicKey)}, but JWT_ALGORITHM=${expected} needs ${NEEDS[expected]}`)
  if (parsed.alg !== undefined && parsed.alg !== alg) throw new KeyError(`holds a JWK with "alg": "${parsed.alg}", which does not fit ${describe(publicKey)} (${alg})`)
  if (kid !== undefined && parsed.kid !== undefined && kid !== parsed.kid) throw new KeyError(`has "kid": "${parsed.kid}" in the JWK, which differs from JWT_KEY_ID`)
  const id = kid ?? parsed.kid ?? thumbprint(publicKey)
  return { kid: id, alg, key: publicKey, jwk: publicJwk(publicKey, id, alg) }
}

/** The one signing key in `text`, which must be private and fit `alg`. */
export function parseSigningKey (text: string, alg: JwtAlgorithm, kid?: string): SigningKey {
  const keys = parseKeys(text)
  if (keys.length !== 1) throw new KeyError(`must hold exactly one key (found ${keys.length})`)
  const [parsed] = keys as [ParsedKey]
  if (!parsed.private) throw new KeyError('is a public key: the signing key must be the private key (its public half is published)')
  const verify = toVerificationKey(parsed, alg, kid)
  return { kid: verify.kid, alg, privateKey: parsed.key, verify }
}

/** Keys that verify but no longer (or not yet) sign; only their public halves are kept. */
export function parseVerificationKeys (text: string): VerificationKey[] {
  return parseKeys(text).map(parsed => toVerificationKey(parsed))
}

/** HS256: the shared secret signs and verifies, and is never published. */
export function secretSigningKey (secret: string, kid = 'hs256'): SigningKey {
  const key = createSecretKey(Buffer.from(secret, 'utf8'))
  return { kid, alg: 'HS256', privateKey: key, verify: { kid, alg: 'HS256', key } }
}

/** A fresh private key for `alg`, as PKCS#8 PEM (the embedded default keeps it in DATA_DIR). */
export function generateSigningKeyPem (alg: Exclude<JwtAlgorithm, 'HS256'>): string {
  const { privateKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}
