import { Prisma } from '../generated/prisma/client.js'

/** A login's TOTP code: its step, and when the factor it was checked against was enabled. */
export interface TotpStep { step: number, factorEnabledAt?: Date }

/**
 * The database's compare-and-set of a TOTP code's step (the durable floor under the store's
 * check): the step becomes the user's last one only if it is newer, and only while TOTP is
 * still on for the user; with `factorEnabledAt`, only while it is that factor (the code may have
 * been checked against a login receipt's hashes, made before a re-enrolment). A store that lost
 * its record, or a disable or re-enrolment that won a race with the login, leaves it unchanged
 * (0 rows). Run alone (second-factor.ts) or inside the statement that writes a login's session
 * (session-store.ts).
 */
export const recordTotpStepSql = (userId: string, step: number, factorEnabledAt?: Date) => Prisma.sql`UPDATE users SET totp_last_step = ${step}
  WHERE id = ${userId}::uuid AND totp_last_step < ${step}
    AND EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = ${userId}::uuid AND t.enabled_at IS NOT NULL AND t.method = 'totp'${factorEnabledAt === undefined
      ? Prisma.empty
      // Within a millisecond: JavaScript's Date holds no microseconds.
      : Prisma.sql` AND t.enabled_at BETWEEN ${factorEnabledAt.toISOString()}::timestamptz - interval '1 millisecond' AND ${factorEnabledAt.toISOString()}::timestamptz + interval '1 millisecond'`})`
