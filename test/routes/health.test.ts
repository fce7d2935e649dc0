import { STATUS_CODES } from 'node:http'
import net from 'node:net'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { ErrorCatalogue } from '../../src/errors.js'
import { ADMIN_DATABASE_URL, buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { register } from '../flows.js'

const envelope = (status: number, message: string) =>
  `{"error":{"message":${JSON.stringify(message)},"code":${status},"identity":null,"title":"${STATUS_CODES[status]}"}}`

t.test('with PostgreSQL and Redis up', async (t) => {
  const app = await buildTestApp(t)
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', database: 'postgres', store: 'redis' })
})

t.test('with Redis unreachable: starts, reports not ready, answers 503', { timeout: 30_000 }, async (t) => {
  const started = Date.now()
  // Nothing listens on 6390: the app must still start, then keep answering (ioredis retries).
  // Built directly: the helper's teardown would wait on the dead Redis to delete keys.
  const app = await buildApp(testConfig({ REDIS_URL: 'redis://127.0.0.1:6390', DATABASE_URL: await createTestDatabase(t) }))
  let closed = false
  t.teardown(async () => { if (!closed) await app.close() })
  await app.ready()
  t.ok(Date.now() - started < 15_000, 'start does not hang on Redis')
  t.not(app.redis?.status, 'ready', 'Redis is not connected')

  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive')

  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.body, envelope(503, 'Not ready: store unreachable.'), 'the envelope, naming only the store')
  t.ok(Number(ready.headers['retry-after']) > 0, 'Retry-After')

  // Login goes through the Redis-backed rate limiter first: unavailable, never a 500 or a pass.
  for (const payload of [{ username: 'nobody', password: 'correct horse' }, { username: 'x', password: 'y' }]) {
    const login = await app.inject({ method: 'POST', url: '/login', payload })
    t.equal(login.statusCode, 503, 'login: 503')
    t.equal(login.body, envelope(503, ErrorCatalogue.unavailable.message), 'login: the envelope')
    t.ok(Number(login.headers['retry-after']) > 0, 'login: Retry-After')
  }
  const registration = await app.inject({ method: 'POST', url: '/users', payload: { username: 'someone', password: 'correct horse' } })
  t.equal(registration.statusCode, 503, 'registration (rate limited): 503')
  t.equal(registration.body, envelope(503, ErrorCatalogue.unavailable.message))
  t.equal(await app.prisma.user.count(), 0, 'nobody was registered while the limiter could not count')

  const me = await app.inject({ method: 'GET', url: '/me' })
  t.equal(me.statusCode, 401, 'a route without Redis still works')

  const closing = Date.now()
  await app.close()
  closed = true
  t.ok(Date.now() - closing < 5000, 'closes promptly despite the reconnect loop')
})

/** A TCP relay to PostgreSQL that the test can cut, as a network partition or a crash would. */
async function startRelay (t: Test) {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(ADMIN_DATABASE_URL).port || 5432), new URL(ADMIN_DATABASE_URL).hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    }
    client.pipe(upstream).pipe(client)
  })
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  await listen(0)
  const port = (server.address() as net.AddressInfo).port
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    await closed
  }
  t.teardown(async () => { if (server.listening) await cut() })
  return { port, cut, restore: () => listen(port) }
}

t.test('with PostgreSQL unreachable: not ready, and login answers 503', { timeout: 30_000 }, async (t) => {
  const relay = await startRelay(t)
  const url = new URL(await createTestDatabase(t))
  url.port = String(relay.port)
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: url.toString() }))
  await register(app, 'pgdown', 'correct horse')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready through the relay')

  await relay.cut()
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.body, envelope(503, 'Not ready: database unreachable.'), 'the envelope, naming only the database')
  t.ok(Number(ready.headers['retry-after']) > 0, 'Retry-After')
  for (const payload of [{ username: 'pgdown', password: 'correct horse' }, { username: 'unknown', password: 'correct horse' }]) {
    const login = await app.inject({ method: 'POST', url: '/login', payload })
    t.equal(login.statusCode, 503, `login as ${payload.username}: 503, not 500`)
    t.equal(login.body, envelope(503, ErrorCatalogue.unavailable.message))
    t.ok(Number(login.headers['retry-after']) > 0, 'Retry-After')
  }
  const registration = await app.inject({ method: 'POST', url: '/users', payload: { username: 'newbie', password: 'correct horse' } })
  t.equal(registration.statusCode, 503, 'registration: 503')

  await relay.restore()
  const back = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(back.statusCode, 200, 'ready again once PostgreSQL is back')
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'pgdown', password: 'correct horse' } })).statusCode, 200, 'and logins work')
})
