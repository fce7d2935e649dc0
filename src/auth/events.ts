import type { PrismaClient } from '../generated/prisma/client.js'
import type { AuditLog } from './audit.js'

/** One page of a user's security events, newest first; keyset pagination on (created_at, id). */
export async function listEvents (prisma: PrismaClient, audit: AuditLog, userId: string, { limit = 20, cursor }: { limit?: number, cursor?: string }) {
  // Read-your-writes: events buffered by this instance are written before the read.
  await audit.flush()
  const rows = await prisma.securityEvent.findMany({
    where: { userId },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit + 1,
    ...(cursor !== undefined ? { cursor: { id: cursor }, skip: 1 } : {})
  })
  const page = rows.slice(0, limit)
  return {
    events: page.map(e => ({
      id: e.id,
      type: e.type,
      created_at: e.createdAt.toISOString(),
      ip: e.ip,
      user_agent: e.userAgent,
      detail: e.detail as Record<string, unknown> | null
    })),
    next_cursor: rows.length > limit ? page[page.length - 1]!.id : null
  }
}
