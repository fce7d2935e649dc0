import { Prisma, type PrismaClient } from '../generated/prisma/client.js'
import type { FactorRow } from './factors.js'
import type { DurableCodeState } from './second-factor.js'

export interface LoginUser {
  id: string
  username: string
  passwordHash: string
  protectedActions: string[]
  twoFactor: FactorRow | null
  /** What the database keeps of the second factor's state, under the store's (see DurableCodeState). */
  durable: DurableCodeState
}

interface Row {
  id: string
  username: string
  password_hash: string
  tfa_protected_actions: string[]
  totp_last_step: number
  tfa_locked_until: Date | null
  enabled_at: Date | null
  method: 'totp' | 'sms' | null
  secret_enc: string | null
  secret_key_id: string | null
  phone_enc: string | null
  phone_key_id: string | null
}

const COLUMNS = Prisma.sql`SELECT u.id, u.username, u.password_hash, u.tfa_protected_actions, u.totp_last_step, u.tfa_locked_until,
  t.enabled_at, t.method::text AS method, t.secret_enc, t.secret_key_id, t.phone_enc, t.phone_key_id
  FROM users u LEFT JOIN two_factor t ON t.user_id = u.id`

/**
 * The user and their second factor in one statement. Every login runs this, so it is raw SQL:
 * the same nested findUnique costs two queries and about 0.5 ms more CPU per login (measured,
 * see README "Performance"), which on a two-core machine comes straight out of bcrypt's time.
 */
export async function findLoginUser (prisma: PrismaClient, by: { username: string } | { id: string }): Promise<LoginUser | null> {
  const where = 'username' in by ? Prisma.sql`WHERE u.username = ${by.username}` : Prisma.sql`WHERE u.id = ${by.id}::uuid`
  const [row] = await prisma.$queryRaw<Row[]>`${COLUMNS} ${where}`
  if (row === undefined) return null
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    protectedActions: row.tfa_protected_actions,
    durable: { floorStep: row.totp_last_step, lockedUntil: row.tfa_locked_until },
    twoFactor: row.method === null
      ? null
      : { enabledAt: row.enabled_at, method: row.method, secretEnc: row.secret_enc, secretKeyId: row.secret_key_id, phoneEnc: row.phone_enc, phoneKeyId: row.phone_key_id }
  }
}
