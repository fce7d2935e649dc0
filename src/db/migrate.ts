import { createHash, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url))

// Same table, columns and checksum (SHA-256 of migration.sql) as `prisma migrate deploy`, so a
// database migrated here is one Prisma's own CLI recognises, and the other way round.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

// Any constant: serialises instances that start together against one database.
const MIGRATION_LOCK_ID = 72_707_015

interface Logger { info: (msg: string) => void }

export interface MigrationResult { applied: string[] }

/**
 * Applies the committed Prisma migrations in order, each in its own transaction, and records
 * them in _prisma_migrations. Needs no Prisma engine binary (see README, "Air-gapped Prisma").
 */
export async function migrate (connectionString: string, log?: Logger, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const migrations = await readMigrations(dir)
  // A host that drops packets would otherwise hold the start for minutes (TCP's own timeout).
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 15_000 })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID])
    await client.query(CREATE_MIGRATIONS_TABLE)
    const { rows } = await client.query<{ migration_name: string, checksum: string, finished_at: Date | null, rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"')
    const done = new Map(rows.filter(r => r.rolled_back_at === null).map(r => [r.migration_name, r]))
    const applied: string[] = []
    for (const migration of migrations) {
      const row = done.get(migration.name)
      if (row?.finished_at === null) {
        throw new Error(`Migration ${migration.name} failed earlier and was not resolved; fix the database, then mark it rolled back (prisma migrate resolve).`)
      }
      if (row) {
        if (row.checksum !== migration.checksum) log?.info(`Migration ${migration.name} was modified after it was applied (checksum differs)`)
        continue
      }
      await client.query('BEGIN')
      try {
        await client.query(migration.sql)
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, now(), 1)`, [randomUUID(), migration.checksum, migration.name])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK')
        throw new Error(`Migration ${migration.name} failed: ${(err as Error).message}`, { cause: err })
      }
      applied.push(migration.name)
      log?.info(`Applied migration ${migration.name}`)
    }
    return { applied }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {})
    await client.end()
  }
}

async function readMigrations (dir: string) {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter(entry => entry.isDirectory())
    .map(entry => entry.name)
    .sort()
  return await Promise.all(names.map(async name => {
    const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8')
    return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
  }))
}
