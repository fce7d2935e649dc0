// Data at scale, loaded by SQL (registering a million users through the API would take hours):
// users `scale<n>`, one active session each, security events spread over the users and over the
// last 440 days (a tenth older than the default retention of 400).
import { log } from './options.mjs'

const CHUNK = 1_000_000

/** Users scale<from+1>…scale<to>, one password hash, each with one open session. */
export async function growUsers (db, { from, to, hash }) {
  for (let start = from; start < to; start += CHUNK) {
    const end = Math.min(to, start + CHUNK)
    await db.query(`INSERT INTO users (id, username, password_hash, updated_at)
      SELECT gen_random_uuid(), 'scale' || i, $1, now() FROM generate_series($2::int + 1, $3::int) AS i`, [hash, start, end])
    log(`  users: ${end}`)
  }
  await db.query(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, amr, auth_time)
    SELECT gen_random_uuid(), u.id, now(), now(), now() + interval '30 days', ARRAY['pwd'], now()
    FROM users u WHERE u.username LIKE 'scale%' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)`)
}

/** Events up to `to` in all, over every scale user but `skip` (whose events the bench controls). */
export async function growEvents (db, { from, to, skip }) {
  await db.query('DROP TABLE IF EXISTS scale_user_numbers')
  await db.query(`CREATE UNLOGGED TABLE scale_user_numbers AS
    SELECT id, (row_number() OVER ()) - 1 AS n FROM users WHERE username LIKE 'scale%' AND id <> ALL($1::uuid[])`, [skip])
  await db.query('CREATE UNIQUE INDEX ON scale_user_numbers (n)')
  const { rows: [{ count }] } = await db.query('SELECT count(*)::int AS count FROM scale_user_numbers')
  for (let start = from; start < to; start += CHUNK) {
    const end = Math.min(to, start + CHUNK)
    await db.query(`INSERT INTO security_events (id, user_id, type, detail, ip, user_agent, created_at)
      SELECT gen_random_uuid(), u.id, 'login.succeeded', '{"amr":["pwd"]}', '203.0.113.7', 'scale-bench',
             now() - (random() * interval '440 days')
      FROM generate_series($1::bigint + 1, $2::bigint) AS g JOIN scale_user_numbers u ON u.n = g % $3`, [start, end, count])
    log(`  events: ${end}`)
  }
  await db.query('DROP TABLE scale_user_numbers')
  await db.query('VACUUM ANALYZE users, sessions, security_events')
}

/** The plan PostgreSQL picks for a query, as text. */
export async function explain (db, sql, params = []) {
  const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) ${sql}`, params)
  return rows.map(r => r['QUERY PLAN']).join('\n')
}
