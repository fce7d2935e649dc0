import { createHash, randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

/**
 * `twofold_ak_` + 43 base62 characters (256 random bits) + a 6-character CRC32 of them: the
 * prefix lets secret scanners find a leaked key, the checksum lets them (and us, before any
 * database read) tell a real key from a look-alike, as GitHub's token format does.
 */
export const API_KEY_PREFIX = 'twofold_ak_'
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const BODY_LENGTH = 43 // ceil(256 / log2(62))
const CHECKSUM_LENGTH = 6 // 62^6 > 2^32
const API_KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}([0-9A-Za-z]{${BODY_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`)

function toBase62 (value: bigint, length: number): string {
  let out = ''
  for (let v = value; v > 0n; v /= 62n) out = BASE62[Number(v % 62n)]! + out
  return out.padStart(length, '0')
}

const checksumOf = (body: string) => toBase62(BigInt(crc32(body)), CHECKSUM_LENGTH)

export function generateApiKey (): string {
  const body = toBase62(BigInt('0x' + randomBytes(32).toString('hex')), BODY_LENGTH)
  return API_KEY_PREFIX + body + checksumOf(body)
}

/** True when `key` has the shape and a matching checksum; says nothing about whether it exists. */
export function isWellFormedApiKey (key: string): boolean {
  const match = API_KEY_PATTERN.exec(key)
  return match !== null && checksumOf(match[1]!) === match[2]
}

/** 256 random bits need no salt or slow hash: SHA-256 is a safe, indexable lookup key. */
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex')
