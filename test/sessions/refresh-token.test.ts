import { createHash } from 'node:crypto'
import t from 'tap'
import { API_KEY_PREFIX, generateApiKey, hashApiKey, isWellFormedApiKey } from '../../src/auth/api-key-format.js'
import { createTokenFormat } from '../../src/auth/opaque-token.js'
import { generateRefreshToken, hashRefreshToken, isWellFormedRefreshToken, REFRESH_TOKEN_PREFIX } from '../../src/sessions/refresh-token.js'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
/** The same token with the character at `i` replaced by a different base62 one. */
const changedAt = (token: string, i: number) => token.slice(0, i) + BASE62[(BASE62.indexOf(token[i]!) + 1) % 62] + token.slice(i + 1)

t.test('a refresh token: twofold_rt_, 43 base62 characters, a 6-character checksum', async (t) => {
  t.equal(REFRESH_TOKEN_PREFIX, 'twofold_rt_')
  const token = generateRefreshToken()
  t.match(token, /^twofold_rt_[0-9A-Za-z]{49}$/)
  t.ok(isWellFormedRefreshToken(token))
  const many = new Set(Array.from({ length: 2000 }, generateRefreshToken))
  t.equal(many.size, 2000, 'no two alike')
  t.ok([...many].every(isWellFormedRefreshToken), 'every one well-formed')
  // The body is the 256 random bits in base62: never more, and the top bit is used.
  const values = [...many].map(k => [...k.slice(REFRESH_TOKEN_PREFIX.length, -6)].reduce((v, c) => v * 62n + BigInt(BASE62.indexOf(c)), 0n))
  t.ok(values.every(v => v < 2n ** 256n), 'below 2^256')
  t.ok(values.some(v => v >= 2n ** 255n), 'some at or above 2^255')
})

t.test('look-alikes are refused before any database read', async (t) => {
  const token = generateRefreshToken()
  const bodyStart = REFRESH_TOKEN_PREFIX.length
  const lookAlikes: Record<string, string> = {
    'a changed body character': changedAt(token, bodyStart + 10),
    'a changed first body character': changedAt(token, bodyStart),
    'a changed checksum character': changedAt(token, token.length - 1),
    'two body characters swapped': token.slice(0, bodyStart) + token[bodyStart + 1] + token[bodyStart] + token.slice(bodyStart + 2),
    'an API key': generateApiKey(),
    'the API-key prefix on a refresh body': API_KEY_PREFIX + token.slice(bodyStart),
    'upper-case prefix': token.replace('twofold_rt_', 'TWOFOLD_RT_'),
    'no prefix': token.slice(bodyStart),
    'one character short': token.slice(0, -1),
    'one character more': token + 'A',
    'a trailing newline': token + '\n',
    'surrounding spaces': ` ${token} `,
    'a non-base62 character': token.slice(0, bodyStart + 3) + '-' + token.slice(bodyStart + 4),
    empty: ''
  }
  for (const [what, candidate] of Object.entries(lookAlikes)) {
    // Swapping two equal characters changes nothing: only then is the look-alike the token itself.
    if (candidate !== token) t.notOk(isWellFormedRefreshToken(candidate), what)
  }
  t.ok(isWellFormedRefreshToken(token), 'the original still is')
  t.notOk(isWellFormedApiKey(token), 'a refresh token is not an API key')
})

t.test('only SHA-256 of the whole token is the lookup key', async (t) => {
  const token = generateRefreshToken()
  t.match(hashRefreshToken(token), /^[0-9a-f]{64}$/)
  t.equal(hashRefreshToken(token), sha256(token))
  t.not(hashRefreshToken(token), hashRefreshToken(generateRefreshToken()))
})

t.test('API keys keep their format and exports on the shared one', async (t) => {
  t.equal(API_KEY_PREFIX, 'twofold_ak_')
  const key = generateApiKey()
  t.match(key, /^twofold_ak_[0-9A-Za-z]{49}$/)
  t.ok(isWellFormedApiKey(key))
  t.notOk(isWellFormedApiKey(changedAt(key, 20)))
  t.notOk(isWellFormedApiKey(generateRefreshToken()))
  t.equal(hashApiKey(key), sha256(key))
  // A key made before the refactor (same body and checksum rules) is still accepted.
  const format = createTokenFormat('twofold_ak_')
  t.ok(format.isWellFormed(key))
})

t.test('a prefix that would not be safe in the pattern is refused', async (t) => {
  t.throws(() => createTokenFormat('twofold.rt_'))
  t.throws(() => createTokenFormat('twofold_rt'))
})
