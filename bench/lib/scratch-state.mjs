// A PostgreSQL database and a Redis key prefix of the bench's own, removed afterwards, so a run
// neither sees nor leaves anything behind.
import { execFileSync } from 'node:child_process'
import pg from 'pg'
import { ADMIN_URL, REDIS_URL } from './options.mjs'

export async function createScratchState () {
  const dbName = `twofold_bench_${process.pid}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${dbName}`)
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${dbName}` }).toString()
  const redisKeyPrefix = `bench:${process.pid}:`
  let db
  return {
    databaseUrl,
    redisKeyPrefix,
    /** A client of the scratch database, ended by remove(). */
    async connect () {
      db = new pg.Client({ connectionString: databaseUrl })
      await db.connect()
      return db
    },
    async remove () {
      await db?.end()
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      await admin.end()
      execFileSync('redis-cli', ['-u', REDIS_URL, '--no-auth-warning', 'eval', "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end", '0', `${redisKeyPrefix}*`], { stdio: 'ignore' })
    }
  }
}

/** `count` users named `prefix`1…`prefix`count with one password hash, straight into the table: far faster than registering each. */
export async function insertUsers (db, prefix, count, hash) {
  const { rows } = await db.query(
    `INSERT INTO users (id, username, password_hash, updated_at)
     SELECT gen_random_uuid(), $1 || i, $2, now() FROM generate_series(1, $3::int) AS i RETURNING id, username`, [prefix, hash, count])
  return rows
}
