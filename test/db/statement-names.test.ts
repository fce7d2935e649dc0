import t from 'tap'
import { createStatementNames } from '../../src/db/statement-names.js'

t.test('one name per SQL text, stable, never shared; unnamed past the cap', async (t) => {
  const nameOf = createStatementNames(2)
  const a = nameOf({ sql: 'SELECT 1' })
  t.match(a, /^tf_[\w-]{22}$/)
  t.equal(nameOf({ sql: 'SELECT 1' }), a, 'the same text, the same prepared statement')
  const b = nameOf({ sql: 'SELECT 2' })
  t.not(b, a, 'another text, another name')
  t.equal(nameOf({ sql: 'SELECT 3' }), '', 'past the cap: pg\'s unnamed statement, parsed each time')
  t.equal(nameOf({ sql: 'SELECT 2' }), b, 'the named ones keep their names')
})

t.test('the service\'s queries run as named prepared statements on its connections', async (t) => {
  const { buildTestApp } = await import('../helper.js')
  const app = await buildTestApp(t)
  const read = async () => await app.prisma.$queryRaw<Array<{ name: string, from_sql: boolean }>>`SELECT name, from_sql FROM pg_prepared_statements WHERE name LIKE 'tf\\_%'`
  await read()
  // The statement reading the view was prepared under its name before it ran, on this connection.
  const rows = await read()
  t.ok(rows.length >= 1, `prepared: ${JSON.stringify(rows)}`)
  t.ok(rows.every(r => !r.from_sql), 'by the protocol, not by PREPARE in SQL')
})

t.test('DATABASE_PREPARED_STATEMENTS=false: unnamed statements only (for PgBouncer in transaction mode)', async (t) => {
  const { buildTestApp, createTestDatabase, testConfig } = await import('../helper.js')
  const app = await buildTestApp(t, testConfig({ DATABASE_PREPARED_STATEMENTS: 'false', DATABASE_URL: await createTestDatabase(t) }))
  const read = async () => await app.prisma.$queryRaw<Array<{ name: string }>>`SELECT name FROM pg_prepared_statements`
  await read()
  t.same(await read(), [], 'nothing prepared on the connection')
})
