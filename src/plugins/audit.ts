import fp from 'fastify-plugin'
import { createAuditLog, type AuditLog } from '../auth/audit.js'

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditLog
  }
}

/** The audit trail, batched off the request path; its last batch is written before the database closes. */
export default fp(async function auditPlugin (app) {
  const audit = createAuditLog(app.prisma, app.log, app.now)
  app.decorate('audit', audit)
  app.beforeDatabaseClose(audit.flush)
}, { name: 'audit', dependencies: ['config', 'prisma'] })
