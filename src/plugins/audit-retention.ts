import fp from 'fastify-plugin'
import { createAuditRetention, type AuditRetention } from '../auth/audit-retention.js'

declare module 'fastify' {
  interface FastifyInstance {
    auditRetention: AuditRetention
  }
}

const FIRST_AFTER_MS = 60_000
const EVERY_MS = 60 * 60 * 1000

/**
 * AUDIT_RETENTION_DAYS, enforced off the request path: a minute after start, then hourly. A
 * round that fails is logged and retried at the next.
 */
export default fp(async function auditRetentionPlugin (app) {
  const retention = createAuditRetention({
    prisma: app.prisma,
    now: app.now,
    retentionDays: app.config.auditRetentionDays,
    onPurged: (count) => { app.metrics?.auditPurged.inc(count) }
  })
  app.decorate('auditRetention', retention)
  let running: Promise<unknown> | undefined
  const round = () => {
    running ??= retention.purge()
      .then(({ deleted }) => { if (deleted > 0) app.log.info({ deleted, retention_days: app.config.auditRetentionDays }, 'old security events purged') })
      .catch((err: unknown) => { app.log.warn({ err: { message: (err as Error).message } }, 'purging old security events failed; retried later') })
      .finally(() => { running = undefined })
  }
  const first = setTimeout(round, FIRST_AFTER_MS)
  const timer = setInterval(round, EVERY_MS)
  first.unref()
  timer.unref()
  app.addHook('onClose', async () => {
    clearTimeout(first)
    clearInterval(timer)
    await running
  })
}, { name: 'audit-retention', dependencies: ['config', 'prisma'] })
