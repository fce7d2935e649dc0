import { createHmac, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import type { JwtAlgorithm } from '../config/jwt-keys.js'

// Node's crypto with key objects built once at boot: fast-jwt takes keys as PEM text and has
// OpenSSL parse them again on every call, and jose's Node build goes through WebCrypto promises.

/** The signature's length for each algorithm: anything else is refused before any crypto runs. */
export const SIGNATURE_BYTES: Record<JwtAlgorithm, number> = { EdDSA: 64, ES256: 64, HS256: 32 }

/** JWS signature over `input` (RFC 7515/7518/8037); ES256 in the fixed-length R||S form JWS requires. */
export function createSignature (alg: JwtAlgorithm, key: KeyObject, input: string): Buffer {
  if (alg === 'HS256') return createHmac('sha256', key).update(input).digest()
  if (alg === 'ES256') return sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return sign(null, Buffer.from(input), key)
}

export function verifySignature (alg: JwtAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  if (signature.length !== SIGNATURE_BYTES[alg]) return false
  if (alg === 'HS256') return timingSafeEqual(createHmac('sha256', key).update(input).digest(), signature)
  if (alg === 'ES256') return verify('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, signature)
  return verify(null, Buffer.from(input), key, signature)
}

const BASE64URL = /^[A-Za-z0-9_-]+$/

/** A base64url part as JSON; strict, since Buffer's decoder skips characters it doesn't know. */
export function decodePart (part: string): unknown {
  if (!BASE64URL.test(part)) throw new Error('not base64url')
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
}

export const encodePart = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
