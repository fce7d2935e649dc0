import { createHash, randomInt } from 'node:crypto'
import type { PrismaClient } from '../generated/prisma/client.js'

export const RECOVERY_CODE_COUNT = 10
// Crockford base32: no I, L, O, U, so a code read off paper can't be mistyped between look-alikes.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const GROUPS = 4
const GROUP_LENGTH = 4

/** 16 symbols of 5 bits = 80 random bits: a plain SHA-256 is then as safe as a slow hash. */
function generateRecoveryCode (): string {
  const groups: string[] = []
  for (let g = 0; g < GROUPS; g++) {
    let group = ''
    for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET[randomInt(ALPHABET.length)]
    groups.push(group)
  }
  return groups.join('-')
}

/** Accepts what a person types: any case, dashes or spaces, and Crockford's look-alikes. */
export function normalizeRecoveryCode (input: string): string {
  return input.toLowerCase().replace(/[\s-]/g, '').replace(/[o]/g, '0').replace(/[il]/g, '1')
}

export const hashRecoveryCode = (code: string) => createHash('sha256').update(normalizeRecoveryCode(code)).digest('hex')

type Db = Pick<PrismaClient, 'recoveryCode'>

/** Replaces all of a user's codes; returns the new ones in clear, the only time they exist so. */
export async function replaceRecoveryCodes (db: Db, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, generateRecoveryCode)
  await db.recoveryCode.deleteMany({ where: { userId } })
  await db.recoveryCode.createMany({ data: codes.map(code => ({ userId, codeHash: hashRecoveryCode(code) })) })
  return codes
}

/**
 * One conditional UPDATE: of any number of concurrent requests with the same code, exactly one
 * sees a row change (PostgreSQL re-checks `used_at IS NULL` after the first commit). The others
 * learn the code was one of the user's, already used: a race or a double submit, not a guess.
 */
export async function consumeRecoveryCode (db: Db, userId: string, code: string, now: () => number): Promise<'accepted' | 'used' | 'unknown'> {
  const normalized = normalizeRecoveryCode(code)
  if (!/^[0-9a-z]{16}$/.test(normalized)) return 'unknown'
  const codeHash = hashRecoveryCode(normalized)
  const { count } = await db.recoveryCode.updateMany({
    where: { userId, codeHash, usedAt: null },
    data: { usedAt: new Date(now()) }
  })
  if (count === 1) return 'accepted'
  return await db.recoveryCode.count({ where: { userId, codeHash } }) === 1 ? 'used' : 'unknown'
}

export async function countRecoveryCodesLeft (db: Db, userId: string): Promise<number> {
  return await db.recoveryCode.count({ where: { userId, usedAt: null } })
}
