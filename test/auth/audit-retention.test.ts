// AUDIT_RETENTION_DAYS on the test clock: what is older goes, in batches, by one instance at a time.
import pg from 'pg'
import t from 'tap'
import { createAuditRetention, RETENTION_LOCK_ID } from '../../src/auth/audit-retention.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, plainUser } from '../flows.js'

const DAY = 86_400_000
const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, AUDIT_RETENTION_DAYS: '30', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' }), { now: clock.now })

async function eventTimes (token: string): Promise<string[]> {
  const res = await app.inject({ url: '/tfa/events?limit=100', headers: bearer(token) })
  return (res.json() as { events: Array<{ created_at: string }> }).events.map(e => e.created_at)
}

t.test('events older than AUDIT_RETENTION_DAYS are purged, newer ones stay', async (t) => {
  const user = await plainUser(app) // registered + login: two events, now
  const start = clock.now()
  clock.advance(20 * DAY)
  await app.inject({ method: 'POST', url: '/login', payload: { username: user.username, password: 'wrong password' } })
  await app.audit.flush()
  t.equal((await eventTimes(user.token)).length, 3)

  clock.advance(9 * DAY) // the first two are 29 days old: kept
  t.same(await app.auditRetention.purge(), { deleted: 0, skipped: false }, 'nothing is old enough yet')
  clock.advance(2 * DAY) // now 31 days: gone; the failed login (11 days) stays
  t.same(await app.auditRetention.purge(), { deleted: 2, skipped: false })
  const left = await eventTimes(user.token)
  t.same(left, [new Date(start + 20 * DAY).toISOString()], 'only the newer event is left')

  const { port } = app.metrics!.address()
  t.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^twofold_audit_events_purged_total 2$/m, 'counted in the metrics')
})

t.test('in batches until none is left, each batch its own short transaction', async (t) => {
  const user = await plainUser(app)
  for (let i = 0; i < 10; i++) app.audit.record('tfa.settings_changed', user.id, {}, { i })
  await app.audit.flush()
  clock.advance(31 * DAY)
  const batches: number[] = []
  const retention = createAuditRetention({ prisma: app.prisma, now: clock.now, retentionDays: 30, batchSize: 4, onPurged: (n) => batches.push(n) })
  t.same(await retention.purge(), { deleted: 13, skipped: false }, 'ten events, registration and login, and the one left by the test before')
  t.same(batches, [4, 4, 4, 1], 'batches of at most four')
  t.same(await eventTimes(user.token), [])
})

t.test('one instance at a time: while another holds the lock, a round is skipped', async (t) => {
  const user = await plainUser(app)
  await app.audit.flush()
  clock.advance(31 * DAY)
  const other = new pg.Client({ connectionString: databaseUrl })
  await other.connect()
  t.teardown(async () => { await other.end() })
  await other.query('BEGIN')
  await other.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK_ID.toString()])
  t.same(await app.auditRetention.purge(), { deleted: 0, skipped: true }, 'skipped, not blocked')
  t.equal((await eventTimes(user.token)).length, 2, 'nothing deleted')
  await other.query('COMMIT')
  t.same(await app.auditRetention.purge(), { deleted: 2, skipped: false }, 'the next round does it')
})

t.test('the purge walks the created_at index', async (t) => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(async () => { await client.end() })
  await client.query('SET enable_seqscan = off') // a tiny table would be scanned anyway: ask what the plan can use
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN DELETE FROM security_events WHERE id IN (
    SELECT id FROM security_events WHERE created_at < now() ORDER BY created_at LIMIT 2000 FOR UPDATE SKIP LOCKED)`)
  t.match(rows.map(r => r['QUERY PLAN']).join('\n'), /security_events_created_at_idx/)
})
