import fp from 'fastify-plugin'
import { createStatementNames } from '../db/statement-names.js'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres.js'
import { databaseStartError } from '../db/connect-failure.js'
import { migrate } from '../db/migrate.js'
import { isDatabaseUnavailable } from '../db/unavailable.js'

declare module 'fastify' {
  interface FastifyInstance {
    prisma: PrismaClient
    databaseMode: 'postgres' | 'embedded'
    /** Work that must reach the database before its pool closes (e.g. buffered audit events). */
    beforeDatabaseClose: (fn: () => Promise<void>) => void
  }
}

export interface PrismaPluginOptions {
  /** false: nothing is started or reached, and any use of the client throws (buildApp's documentOnly). */
  connect?: boolean
}

export default fp<PrismaPluginOptions>(async function prismaPlugin (app, opts) {
  const { config } = app
  if (opts.connect === false) {
    app.decorate('prisma', noDatabase())
    app.decorate('databaseMode', config.databaseUrl === undefined ? 'embedded' : 'postgres')
    app.decorate('beforeDatabaseClose', () => {})
    return
  }
  let embedded: EmbeddedPostgres | undefined
  let connectionString = config.databaseUrl
  if (connectionString === undefined) {
    embedded = await startEmbeddedPostgres(config.dataDir)
    connectionString = embedded.connectionString
    app.log.warn(`DATABASE_URL is not set: using the embedded PostgreSQL (PGlite) in ${config.dataDir}, for a single instance only`)
  }
  try {
    // Before listening: an instance never serves a schema older than its code.
    await migrate(connectionString, app.log)
  } catch (err) {
    await embedded?.stop()
    throw (config.databaseUrl !== undefined ? databaseStartError(err, config.databaseUrl) : undefined) ?? err
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString, max: config.databasePoolMax }, config.databasePreparedStatements ? { statementNameGenerator: createStatementNames() } : undefined) })
  app.decorate('prisma', prisma)
  app.unavailableWhen(isDatabaseUnavailable)
  app.decorate('databaseMode', embedded ? 'embedded' : 'postgres')
  // Root-level onClose hooks run in registration order, so this one would run before those of
  // plugins that use the database; they register their last writes here instead.
  const lastWrites: Array<() => Promise<void>> = []
  app.decorate('beforeDatabaseClose', (fn: () => Promise<void>) => { lastWrites.push(fn) })
  app.addHook('onClose', async () => {
    for (const fn of lastWrites) await fn()
    await prisma.$disconnect()
    await embedded?.stop()
  })
}, { name: 'prisma', dependencies: ['config', 'error-handler'] })

// A use during registration would otherwise show up only in the running service, as a hang or a
// connection error far from its cause.
function noDatabase (): PrismaClient {
  return new Proxy({}, {
    get (_target, property) {
      // Asked of any value: whether it is a thenable (async returns) or a Fastify getter/setter decorator.
      if (typeof property === 'symbol' || property === 'then' || property === 'getter' || property === 'setter') return undefined
      throw new Error(`buildApp({ documentOnly: true }) has no database (prisma.${String(property)})`)
    }
  }) as PrismaClient
}
