import net from 'node:net'
import t from 'tap'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'

// Connections must not be held open for free: a client that sends nothing, or trickles its
// request, is cut within the configured limits while normal clients are served. The limits here
// are small so the test is quick; production defaults are in config.ts.
const app = await buildTestApp(t, testConfig({
  DATABASE_URL: await createTestDatabase(t),
  HTTP_HEADERS_TIMEOUT_MS: '500',
  HTTP_REQUEST_TIMEOUT_MS: '1000',
  HTTP_CONNECTION_TIMEOUT_MS: '3000',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: '600'
}))
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as net.AddressInfo).port

interface Outcome { closedAfterMs: number, response: string }

/** Opens a raw connection, lets `drive` use it, and resolves when the server closes it. */
async function rawConnection (drive: (socket: net.Socket) => void): Promise<Outcome> {
  const started = Date.now()
  return await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => { drive(socket) })
    let response = ''
    socket.on('data', (chunk) => { response += String(chunk) })
    socket.on('error', () => {})
    socket.on('close', () => { resolve({ closedAfterMs: Date.now() - started, response }) })
    setTimeout(() => { socket.destroy(); reject(new Error('the server kept the connection open for 15 s')) }, 15_000).unref()
  })
}

async function normalRequest (): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`)
  await res.arrayBuffer()
  return res.status
}

const bodyOf = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as unknown

t.test('a connection that never sends a byte is closed after the headers timeout, with the envelope', async (t) => {
  const mute = rawConnection(() => {})
  const served = await Promise.all([normalRequest(), normalRequest(), normalRequest()])
  t.same(served, [200, 200, 200], 'normal clients are served meanwhile')
  const outcome = await mute
  t.ok(outcome.closedAfterMs < 1500, `closed after ${outcome.closedAfterMs} ms (limit 500 ms, checked every 125 ms)`)
  t.match(outcome.response, /^HTTP\/1\.1 408 /, '408')
  t.same(bodyOf(outcome.response), { error: { message: 'The request took too long to arrive.', code: 408, identity: null, title: 'Request Timeout' } })
})

t.test('headers trickled a byte at a time are cut at the headers timeout', async (t) => {
  let timer: NodeJS.Timeout | undefined
  const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200)
  const outcome = await rawConnection((socket) => {
    let i = 0
    timer = setInterval(() => { if (i < request.length && socket.writable) socket.write(request[i++]!) }, 50)
  })
  clearInterval(timer)
  t.ok(outcome.closedAfterMs < 1500, `closed after ${outcome.closedAfterMs} ms`)
  t.match(outcome.response, /^HTTP\/1\.1 408 /)
})

t.test('a body trickled a byte at a time is cut at the request timeout', async (t) => {
  let timer: NodeJS.Timeout | undefined
  const trickle = rawConnection((socket) => {
    socket.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{')
    timer = setInterval(() => { if (socket.writable) socket.write(' ') }, 100)
  })
  t.equal(await normalRequest(), 200, 'a normal client is served meanwhile')
  const outcome = await trickle
  clearInterval(timer)
  t.ok(outcome.closedAfterMs < 2500, `closed after ${outcome.closedAfterMs} ms (limit 1000 ms), where the body alone would take 20 s`)
})

t.test('an idle keep-alive connection is closed after the keep-alive timeout', async (t) => {
  const outcome = await rawConnection((socket) => {
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  })
  t.match(outcome.response, /^HTTP\/1\.1 200 /, 'served first')
  t.ok(outcome.closedAfterMs < 2000, `then closed after ${outcome.closedAfterMs} ms idle (limit 600 ms)`)
})

t.test('headers too large: 431 with the envelope', async (t) => {
  const outcome = await rawConnection((socket) => {
    socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`)
  })
  t.match(outcome.response, /^HTTP\/1\.1 431 /)
  t.same(bodyOf(outcome.response), { error: { message: 'Request headers are too large.', code: 431, identity: null, title: 'Request Header Fields Too Large' } })
})

t.test('a request Node cannot parse: 400 with the envelope', async (t) => {
  const outcome = await rawConnection((socket) => { socket.write('NOT HTTP AT ALL\r\n\r\n') })
  t.match(outcome.response, /^HTTP\/1\.1 400 /)
  t.same(bodyOf(outcome.response), { error: { message: 'Malformed HTTP request.', code: 400, identity: null, title: 'Bad Request' } })
})

t.test('a URL that does not decode: 400 with the envelope', async (t) => {
  const res = await fetch(`http://127.0.0.1:${port}/admin/users/%E0%A4%A`)
  t.equal(res.status, 400)
  t.same(await res.json(), { error: { message: 'Malformed URL.', code: 400, identity: null, title: 'Bad Request' } })
})
