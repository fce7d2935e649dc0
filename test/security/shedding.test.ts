import { connect } from 'node:net'
import t from 'tap'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { errorBody, ErrorCatalogue } from '../../src/errors.js'

// The shed path must cost about what a hello-world does, or clients that retry a 503 at once eat
// the CPU the hashes need: it answers in onRequest, before the body is read, without Redis or
// the database.
const OVERLOADED_BODY = JSON.stringify(errorBody(503, ErrorCatalogue.overloaded.message))

/** Sends only the head of a POST that announces a body, and returns the raw answer. */
async function headOnly (port: number, path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n`)
    })
    let raw = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      raw += chunk
      // The answer is complete once the announced body length is in.
      const [head, body] = raw.split('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(head ?? '')?.[1]
      if (length !== undefined && body !== undefined && Buffer.byteLength(body) >= Number(length)) {
        socket.destroy()
        resolve(raw)
      }
    })
    socket.on('error', reject)
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error(`no answer: ${raw}`)) })
  })
}

t.test('while every hash slot is taken: 503 at once, without the body, Redis or the database', async (t) => {
  const app = await buildTestApp(t, testConfig({ MAX_PENDING_HASHES: '1', BCRYPT_COST: '13', DATABASE_URL: await createTestDatabase(t) }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  // The one slot, taken for the length of a cost-13 hash (about half a second or more).
  const holding = app.passwords.hash('holding the only slot')
  // With Redis gone a rate-limit check or a store call would wait for it (or fail 503 "unavailable").
  app.redis!.disconnect()
  t.teardown(async () => { await holding })

  for (const path of ['/login', '/users']) {
    const raw = await headOnly(port, path)
    // The body was announced and never sent: an answer means nothing waited for it.
    t.match(raw, /^HTTP\/1\.1 503 /, `${path}: 503`)
    t.match(raw, /\r\nretry-after: 1\r\n/i, 'Retry-After')
    t.match(raw, /\r\ncontent-type: application\/json; charset=utf-8\r\n/i)
    t.equal(raw.split('\r\n\r\n')[1], OVERLOADED_BODY, 'the catalogue envelope, byte for byte')
  }
  t.not(app.redis!.status, 'ready', 'Redis was away the whole time')
  t.equal(app.passwords.slots().pending >= app.passwords.slots().max, true, 'and the slot still taken: the answers came while it was')
})

t.test('the pre-serialized refusals are the catalogue envelopes (inject)', async (t) => {
  const app = await buildTestApp(t, testConfig({ RATE_LIMIT_LOGIN_MAX: '1', DATABASE_URL: await createTestDatabase(t) }))
  const attempt = async () => await app.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.77', payload: { username: 'nobody', password: 'wrong password' } })
  t.equal((await attempt()).statusCode, 401)
  const first = await attempt()
  const cached = await attempt()
  for (const res of [first, cached]) {
    t.equal(res.statusCode, 429)
    t.equal(res.body, JSON.stringify(errorBody(429, ErrorCatalogue.rateLimited.message)))
    t.match(String(res.headers['retry-after']), /^[0-9]+$/)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  }
})
