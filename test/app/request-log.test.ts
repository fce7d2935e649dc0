// What an operator reads: one line per request, probes out of the way at info.
import { Writable } from 'node:stream'
import t, { type Test as Tap } from 'tap'
import { buildApp } from '../../src/app.js'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'

async function appLoggingAt (t: Tap, level: string) {
  const lines: Array<Record<string, unknown>> = []
  const logStream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    }
  })
  const app = await buildTestApp(t, testConfig({ LOG_LEVEL: level, DATABASE_URL: await createTestDatabase(t) }), { logStream })
  return { app, lines }
}

t.test('info: one line per request, with status and time; probes not at all', async (t) => {
  const { app, lines } = await appLoggingAt(t, 'info')
  // The first readiness check opens the pool's connection: slow on a loaded machine, out of the count.
  await app.inject({ url: '/readyz' })
  const before = lines.length
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  }
  t.same(lines.slice(before), [], 'ten probes, no line')

  t.equal((await app.inject({ method: 'POST', url: '/users', payload: { username: 'logged', password: 'correct horse battery' } })).statusCode, 201)
  t.equal((await app.inject({ url: '/admin/users?prefix=secret-search-term' })).statusCode, 401)
  const requestLines = lines.slice(before).filter(l => l.reqId !== undefined)
  t.equal(requestLines.length, 2, 'two requests, two lines')
  t.match(requestLines[0], { level: 30, msg: 'request completed', method: 'POST', url: '/users', route: '/users', statusCode: 201, responseTime: Number })
  t.match(requestLines[1], { url: '/admin/users', statusCode: 401 })
  t.notMatch(JSON.stringify(lines), 'secret-search-term', 'no query strings in the log')
})

t.test('debug: the start of a request too, and probes', async (t) => {
  const { app, lines } = await appLoggingAt(t, 'debug')
  const before = lines.length
  await app.inject({ url: '/healthz' })
  t.match(lines.slice(before), [{ level: 20, msg: 'request received', url: '/healthz' }, { level: 20, msg: 'request completed', url: '/healthz', statusCode: 200 }])
})

t.test('a failing readiness probe is logged at warn', { timeout: 30_000 }, async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logStream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    }
  })
  // Nothing listens on 6390. Built directly: the helper's teardown would wait on the dead Redis.
  const app = await buildApp(testConfig({ LOG_LEVEL: 'info', REDIS_URL: 'redis://127.0.0.1:6390', DATABASE_URL: await createTestDatabase(t) }), { logStream })
  t.teardown(async () => { await app.close() })
  await app.ready()
  const res = await app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.match(lines.filter(l => l.msg === 'request completed'), [{ level: 40, url: '/readyz', statusCode: 503 }])
})
