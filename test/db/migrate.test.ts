import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import pg from 'pg'
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'

const INIT = '20261122000000_init'

async function query<T extends pg.QueryResultRow> (url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

const tablesOf = async (url: string) =>
  (await query<{ table_name: string }>(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")).map(r => r.table_name)

interface MigrationRow { migration_name: string, checksum: string, finished_at: Date | null, rolled_back_at: Date | null, applied_steps_count: number }

t.test('the committed migrations are the expected ones', async (t) => {
  const names = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter(e => e.isDirectory()).map(e => e.name)
  t.ok(names.includes(INIT), `${INIT} is committed`)
})

t.test('a fresh database: applies init once, recorded as Prisma does', async (t) => {
  const url = await createTestDatabase(t)
  t.same(await tablesOf(url), [], 'starts empty')
  const logged: string[] = []
  const first = await migrate(url, { info: (msg) => { logged.push(msg) } })
  t.ok(first.applied.includes(INIT), 'init applied')
  t.equal(first.applied[0], INIT, 'in name order, init first')
  t.match(logged.join('\n'), `Applied migration ${INIT}`)

  const tables = await tablesOf(url)
  for (const table of ['_prisma_migrations', 'users', 'two_factor', 'recovery_codes']) t.ok(tables.includes(table), `table ${table} exists (${tables.join(', ')})`)

  const rows = await query<MigrationRow>(url, 'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name')
  t.equal(rows.length, first.applied.length, 'one row per applied migration')
  const init = rows.find(r => r.migration_name === INIT)
  if (init === undefined) throw new Error('init not recorded')
  const expected = createHash('sha256').update(await readFile(path.join(MIGRATIONS_DIR, INIT, 'migration.sql'))).digest('hex')
  t.equal(init.checksum, expected, 'checksum = sha256 hex of migration.sql')
  t.match(init.checksum, /^[0-9a-f]{64}$/)
  t.type(init.finished_at, Date, 'finished_at set')
  t.equal(init.rolled_back_at, null)
  t.equal(init.applied_steps_count, 1)

  const second = await migrate(url)
  t.same(second.applied, [], 'a second run applies nothing')
  t.equal((await query(url, 'SELECT 1 FROM "_prisma_migrations"')).length, rows.length, 'and records nothing more')
})

t.test('two concurrent runs on a fresh database: both succeed, init applied once', async (t) => {
  const url = await createTestDatabase(t)
  const results = await Promise.all([migrate(url), migrate(url), migrate(url)])
  const applied = results.flatMap(r => r.applied)
  t.equal(applied.filter(name => name === INIT).length, 1, 'init applied exactly once')
  const rows = await query<MigrationRow>(url, `SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" WHERE migration_name = '${INIT}'`)
  t.equal(rows.length, 1, 'recorded once')
  t.ok(rows[0]?.finished_at, 'finished')
})

t.test('a failed earlier run is not silently skipped', async (t) => {
  const url = await createTestDatabase(t)
  await migrate(url)
  await query(url, `UPDATE "_prisma_migrations" SET finished_at = NULL WHERE migration_name = '${INIT}'`)
  await t.rejects(migrate(url), /failed earlier/)
})

t.test('buildTestApp on a fresh database migrates at start', async (t) => {
  const url = await createTestDatabase(t)
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: url }))
  const tables = await tablesOf(url)
  t.ok(tables.includes('_prisma_migrations'))
  t.ok(tables.includes('users'))
  t.equal(await app.prisma.user.count(), 0, 'Prisma can query the migrated schema')
  const rows = await query<MigrationRow>(url, 'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations"')
  t.ok(rows.some(r => r.migration_name === INIT && r.finished_at !== null))
})
