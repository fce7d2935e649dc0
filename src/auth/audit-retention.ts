import type { PrismaClient } from '../generated/prisma/client.js'

const DAY_MS = 86_400_000
// Any constant both instances agree on; the migrations use another.
export const RETENTION_LOCK_ID = 0x7477_6f66_6472_7470n
const DEFAULT_BATCH = 2000
const PAUSE_MS = 20

export interface AuditRetentionDeps {
  prisma: PrismaClient
  now: () => number
  retentionDays: number
  batchSize?: number
  /** Hears each batch deleted (metrics). */
  onPurged?: (count: number) => void
}

/**
 * Deletes security events older than the retention, oldest first, in small batches: each batch
 * is its own short transaction (row locks on at most `batchSize` rows, on the created_at index),
 * with a pause between, so inserts and reads never wait long. A transaction-scoped advisory lock
 * lets one instance at a time do it; the others skip the round.
 */
export function createAuditRetention ({ prisma, now, retentionDays, batchSize = DEFAULT_BATCH, onPurged }: AuditRetentionDeps) {
  async function purgeBatch (cutoff: Date): Promise<number | null> {
    return await prisma.$transaction(async (tx) => {
      const [lock] = await tx.$queryRaw<Array<{ locked: boolean }>>`SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK_ID}) AS locked`
      if (lock?.locked !== true) return null
      return await tx.$executeRaw`DELETE FROM security_events WHERE id IN (
        SELECT id FROM security_events WHERE created_at < ${cutoff} ORDER BY created_at LIMIT ${batchSize} FOR UPDATE SKIP LOCKED)`
    })
  }

  return {
    /** One round: batches until nothing older than the retention is left (or another instance holds the lock). */
    async purge ({ maxBatches = Infinity }: { maxBatches?: number } = {}): Promise<{ deleted: number, skipped: boolean }> {
      const cutoff = new Date(now() - retentionDays * DAY_MS)
      let deleted = 0
      for (let batch = 0; batch < maxBatches; batch++) {
        const count = await purgeBatch(cutoff)
        if (count === null) return { deleted, skipped: true }
        deleted += count
        if (count > 0) onPurged?.(count)
        if (count < batchSize) break
        await new Promise(resolve => setTimeout(resolve, PAUSE_MS))
      }
      return { deleted, skipped: false }
    }
  }
}

export type AuditRetention = ReturnType<typeof createAuditRetention>
