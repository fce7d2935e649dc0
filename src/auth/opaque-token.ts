import { createHash, randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const BODY_LENGTH = 43 // ceil(256 / log2(62))
const CHECKSUM_LENGTH = 6 // 62^6 > 2^32

function toBase62 (value: bigint, length: number): string {
  let out = ''
  for (let v = value; v > 0n; v /= 62n) out = BASE62[Number(v % 62n)]! + out
  return out.padStart(length, '0')
}

const checksumOf = (body: string) => toBase62(BigInt(crc32(body)), CHECKSUM_LENGTH)

export interface TokenFormat {
  readonly prefix: string
  generate: () => string
  /** True when `token` has the shape and a matching checksum; says nothing about whether it exists. */
  isWellFormed: (token: string) => boolean
  /** 256 random bits need no salt or slow hash: SHA-256 is a safe, indexable lookup key. */
  hash: (token: string) => string
}

/**
 * `prefix` + 43 base62 characters (256 random bits) + a 6-character CRC32 of them: the prefix
 * lets secret scanners find a leaked token (and tells which kind it is), the checksum lets them
 * (and us, before any database read) tell a real token from a look-alike, as GitHub's format does.
 */
export function createTokenFormat (prefix: string): TokenFormat {
  if (!/^[a-z0-9_]+_$/.test(prefix)) throw new Error(`token prefix must be lowercase, digits and underscores, ending in _: ${prefix}`)
  const pattern = new RegExp(`^${prefix}([0-9A-Za-z]{${BODY_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`)
  return {
    prefix,
    generate () {
      const body = toBase62(BigInt('0x' + randomBytes(32).toString('hex')), BODY_LENGTH)
      return prefix + body + checksumOf(body)
    },
    isWellFormed (token) {
      const match = pattern.exec(token)
      return match !== null && checksumOf(match[1]!) === match[2]
    },
    // The prefix is hashed too: a key and a refresh token can never share a lookup value.
    hash: (token) => createHash('sha256').update(token).digest('hex')
  }
}
