import fp from 'fastify-plugin'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres.js'
import { migrate } from '../db/migrate.js'

declare module 'fastify' {
  interface FastifyInstance {
    prisma: PrismaClient
    databaseMode: 'postgres' | 'embedded'
  }
}

export default fp(async function prismaPlugin (app) {
  const { config } = app
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
    throw err
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString, max: config.databasePoolMax }) })
  app.decorate('prisma', prisma)
  app.decorate('databaseMode', embedded ? 'embedded' : 'postgres')
  app.addHook('onClose', async () => {
    await prisma.$disconnect()
    await embedded?.stop()
  })
}, { name: 'prisma', dependencies: ['config'] })
