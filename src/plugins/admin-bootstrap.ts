import fp from 'fastify-plugin'
import { ensureAdmin } from '../auth/admin.js'

/**
 * ADMIN_USERNAME + ADMIN_PASSWORD at start create the first administrator. An existing user of
 * that name is never promoted: whoever registered it first would become administrator.
 */
export default fp(async function adminBootstrapPlugin (app) {
  if (app.config.bootstrapAdmin === undefined) return
  const { username, password } = app.config.bootstrapAdmin
  const outcome = await ensureAdmin({ prisma: app.prisma, passwords: app.passwords }, username, password, { promote: false })
  if (outcome === 'created') app.log.info(`Administrator ${username} created from ADMIN_USERNAME`)
  if (outcome === 'taken') app.log.error(`ADMIN_USERNAME ${username} belongs to an existing non-admin user: not promoted (use npm run admin:create -- ${username} to promote on purpose)`)
}, { name: 'admin-bootstrap', dependencies: ['prisma', 'passwords'] })
