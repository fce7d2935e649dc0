import { Prisma } from '../generated/prisma/client.js'

/**
 * The database's compare-and-set of a TOTP code's step (the durable floor under the store's
 * check): the step becomes the user's last one only if it is newer, and only while TOTP is
 * still on for the user. A store that lost its record, or a disable that won a race with the
 * login, leaves it unchanged (0 rows). Run alone (second-factor.ts) or inside the statement that
 * writes a login's session (session-store.ts).
 */
export const recordTotpStepSql = (userId: string, step: number) => Prisma.sql`UPDATE users SET totp_last_step = ${step}
  WHERE id = ${userId}::uuid AND totp_last_step < ${step}
    AND EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = ${userId}::uuid AND t.enabled_at IS NOT NULL AND t.method = 'totp')`
