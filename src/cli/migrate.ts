// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (or the embedded database in
// DATA_DIR) without Prisma's schema engine, so it works on air-gapped machines too.
import { ConfigError, loadConfig } from '../config/config.js'
import { startEmbeddedPostgres } from '../db/embedded-postgres.js'
import { migrate } from '../db/migrate.js'

try {
  const config = loadConfig(process.env)
  const embedded = config.databaseUrl === undefined ? await startEmbeddedPostgres(config.dataDir) : undefined
  try {
    const { applied } = await migrate(config.databaseUrl ?? embedded!.connectionString, { info: (msg) => console.log(msg) })
    console.log(applied.length === 0 ? 'Database is up to date.' : `Applied ${applied.length} migration(s).`)
  } finally {
    await embedded?.stop()
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exitCode = 1
}
