// The admin username search (?prefix=) must stay an index range scan at a million users.
import pg from 'pg'
import t from 'tap'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'

const databaseUrl = await createTestDatabase(t)
await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl })) // applies the migrations
const db = new pg.Client({ connectionString: databaseUrl })
await db.connect()
t.teardown(async () => { await db.end() })

t.test('LIKE prefix with ORDER BY username: one range scan of the unique index', async (t) => {
  await db.query(`INSERT INTO users (id, username, password_hash, updated_at)
    SELECT gen_random_uuid(), 'user' || i, 'x', now() FROM generate_series(1, 20000) i`)
  await db.query('ANALYZE users')
  // The query Prisma sends for { username: { startsWith } }, orderBy username, take.
  const { rows } = await db.query<{ 'QUERY PLAN': string }>(
    'EXPLAIN SELECT id, username FROM users WHERE username LIKE $1 ORDER BY username ASC LIMIT 21', ['user12%'])
  const plan = rows.map(r => r['QUERY PLAN']).join('\n')
  t.match(plan, /Index (Only )?Scan using users_username_key/, plan)
  t.match(plan, /Index Cond: \(\(\(?username\)?(::text)? >= 'user12'::text\) AND \(\(?username\)?(::text)? < 'user13'::text\)\)/, 'the prefix is the range, not a filter')
  t.notMatch(plan, /Sort|Seq Scan/, 'no sort, no full scan')
  const found = await db.query<{ username: string }>('SELECT username FROM users WHERE username LIKE $1 ORDER BY username LIMIT 5', ['user12%'])
  t.same(found.rows.map(r => r.username), ['user12', 'user120', 'user1200', 'user12000', 'user12001'], 'byte order: alphabetical for these names')
})
