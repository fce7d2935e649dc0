import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import pino from 'pino'
import { createSmsTransport } from '../../src/sms/create-transport.js'
import { SmsDeliveryError } from '../../src/sms/sms-transport.js'
import { signBody } from '../../src/sms/webhook-transport.js'
import { isE164, maskPhone } from '../../src/sms/phone.js'

const SECRET = 'webhook-secret-Vq8-0123456789abcdefghij'
const CODE = '493817'
const SMS = { to: '+4915123456789', message: `Your twofold code is ${CODE}` }

interface Received { headers: IncomingHttpHeaders, body: Buffer }

/**
 * A real HTTP receiver on a free local port. `answer` gets the request's index (0, 1…) and
 * responds, or leaves the response open to simulate a receiver that never answers.
 */
async function startReceiver (t: Test, answer: (index: number, res: ServerResponse) => void) {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) })
      answer(received.length - 1, res)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`, received }
}

const reply = (status: number) => (_: number, res: ServerResponse) => res.writeHead(status).end('{}')
const silent = pino({ level: 'silent' })

function webhook (url: string, timeoutMs = 2000) {
  return createSmsTransport({ transport: 'webhook', webhook: { url, secret: SECRET, timeoutMs } }, silent)
}

/** Runs send and returns the SmsDeliveryError it must throw. */
async function deliveryError (t: Test, send: Promise<void>): Promise<SmsDeliveryError> {
  const err = await send.then(() => undefined, (e: unknown) => e)
  t.type(err, SmsDeliveryError, 'throws an SmsDeliveryError')
  const message = String((err as Error | undefined)?.message)
  t.notMatch(message, CODE, 'the error does not contain the code')
  t.notMatch(message, SMS.message, 'nor the message')
  t.notMatch(message, SECRET, 'nor the webhook secret')
  return err as SmsDeliveryError
}

/** How a receiver verifies: HMAC over the raw bytes, compared in constant time. */
function verifies (secret: string, r: Received): boolean {
  const expected = Buffer.from(signBody(secret, r.body))
  const given = Buffer.from(String(r.headers['x-twofold-signature']))
  return given.length === expected.length && timingSafeEqual(given, expected)
}

t.test('posts exactly the JSON body, signed with the secret', async (t) => {
  const receiver = await startReceiver(t, reply(204))
  const transport = webhook(receiver.url)
  t.equal(transport.kind, 'webhook')
  await transport.send(SMS)
  t.equal(receiver.received.length, 1)
  const [r] = receiver.received
  if (!r) throw new Error('no request')
  t.equal(r.body.toString('utf8'), JSON.stringify({ to: SMS.to, message: SMS.message }), 'body is exactly {"to":…,"message":…}')
  t.same(JSON.parse(r.body.toString('utf8')), SMS)
  t.equal(r.headers['content-type'], 'application/json')
  t.equal(r.headers['user-agent'], 'twofold')
  t.match(r.headers['x-twofold-signature'], /^sha256=[0-9a-f]{64}$/)
  t.ok(verifies(SECRET, r), 'the signature verifies with the secret')
  t.notOk(verifies('another-secret-0123456789abcdefghijkl', r), 'and not with another secret')
  t.notOk(verifies(SECRET, { ...r, body: Buffer.from(r.body.toString('utf8').replace(CODE, '000000')) }), 'nor over a changed body')
})

t.test('a 500 then a 200 is delivered, with exactly 2 requests', async (t) => {
  const receiver = await startReceiver(t, (i, res) => reply(i === 0 ? 500 : 200)(i, res))
  await webhook(receiver.url).send(SMS)
  t.equal(receiver.received.length, 2)
  t.equal(receiver.received[1]?.body.toString('utf8'), receiver.received[0]?.body.toString('utf8'), 'the retry sends the same body')
  t.equal(receiver.received[1]?.headers['x-twofold-signature'], receiver.received[0]?.headers['x-twofold-signature'])
  t.match(receiver.received[0]?.headers['x-twofold-delivery-id'], /^[0-9a-f-]{36}$/, 'a delivery id')
  t.equal(receiver.received[1]?.headers['x-twofold-delivery-id'], receiver.received[0]?.headers['x-twofold-delivery-id'], 'the same on the retry, so receivers can de-duplicate')
  await webhook(receiver.url).send(SMS)
  t.not(receiver.received[2]?.headers['x-twofold-delivery-id'], receiver.received[0]?.headers['x-twofold-delivery-id'], 'a new message gets a new id')
})

t.test('a 429 is retried too', async (t) => {
  const receiver = await startReceiver(t, (i, res) => reply(i === 0 ? 429 : 202)(i, res))
  await webhook(receiver.url).send(SMS)
  t.equal(receiver.received.length, 2)
})

t.test('500 twice: SmsDeliveryError after exactly 2 requests', async (t) => {
  const receiver = await startReceiver(t, reply(500))
  const err = await deliveryError(t, webhook(receiver.url).send(SMS))
  t.match(err.message, '500')
  t.equal(receiver.received.length, 2)
})

t.test('a 400 is not retried: SmsDeliveryError after exactly 1 request', async (t) => {
  const receiver = await startReceiver(t, reply(400))
  const err = await deliveryError(t, webhook(receiver.url).send(SMS))
  t.match(err.message, '400')
  t.equal(receiver.received.length, 1)
})

t.test('a redirect is not followed (it would send the code elsewhere)', async (t) => {
  const elsewhere = await startReceiver(t, reply(200))
  const receiver = await startReceiver(t, (_, res) => res.writeHead(307, { location: elsewhere.url }).end())
  await deliveryError(t, webhook(receiver.url).send(SMS))
  t.equal(receiver.received.length, 1)
  t.equal(elsewhere.received.length, 0)
})

t.test('a receiver that never answers: retried once after the timeout, then SmsDeliveryError', async (t) => {
  const receiver = await startReceiver(t, () => {})
  const started = Date.now()
  const err = await deliveryError(t, webhook(receiver.url, 200).send(SMS))
  t.match(err.message, 'timeout')
  t.equal(receiver.received.length, 2)
  t.ok(Date.now() - started >= 400, 'each attempt waited for its timeout')
})

t.test('connection refused: SmsDeliveryError', async (t) => {
  // A port that was free a moment ago and is closed now.
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  const err = await deliveryError(t, webhook(`http://127.0.0.1:${port}/sms`).send(SMS))
  t.match(err.message, 'network error')
})

t.test('the webhook\'s retry warning logs the reason, never the message', async (t) => {
  const lines: string[] = []
  const log = pino({ level: 'trace' }, new Writable({
    write (chunk: Buffer, _encoding, callback) { lines.push(chunk.toString('utf8')); callback() }
  }))
  const receiver = await startReceiver(t, reply(503))
  await deliveryError(t, createSmsTransport({ transport: 'webhook', webhook: { url: receiver.url, secret: SECRET, timeoutMs: 2000 } }, log).send(SMS))
  const text = lines.join('')
  t.match(text, '503')
  t.notMatch(text, CODE)
  t.notMatch(text, SECRET)
})

t.test('log transport: writes the message at warn level, with the number masked', async (t) => {
  const lines: string[] = []
  const log = pino({ level: 'info' }, new Writable({
    write (chunk: Buffer, _encoding, callback) { lines.push(chunk.toString('utf8')); callback() }
  }))
  const transport = createSmsTransport({ transport: 'log' }, log)
  t.equal(transport.kind, 'log')
  await transport.send(SMS)
  t.equal(lines.length, 1)
  const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>
  t.equal(entry.level, 40, 'warn')
  t.equal(entry.sms_message, SMS.message, 'the code is readable in development')
  t.equal(entry.sms_to, '+49•••••••••89')
  t.match(entry.msg, 'development only')
  t.notMatch(lines[0], SMS.to, 'the whole number is not logged')
})

t.test('none: kind none, and send refuses', async (t) => {
  const transport = createSmsTransport({ transport: 'none' }, silent)
  t.equal(transport.kind, 'none')
  const err = await deliveryError(t, transport.send(SMS))
  t.match(err.message, 'not configured')
})

t.test('maskPhone and isE164', async (t) => {
  t.equal(maskPhone('+4915123456789'), '+49•••••••••89')
  t.equal(maskPhone('+12025550123'), '+12•••••••23')
  t.equal(maskPhone('+12345678'), '+12••••78', 'the shortest number keeps 4 of its 8 digits')
  t.equal(maskPhone('015123456789'), '•••', 'not E.164: nothing shown')
  for (const ok of ['+4915123456789', '+12345678', '+123456789012345']) t.ok(isE164(ok), ok)
  for (const bad of ['4915123456789', '+0123456789', '+1234567', '+1234567890123456', '+49 151 2345678', '+49151234567a', '']) {
    t.notOk(isE164(bad), `refuses ${JSON.stringify(bad)}`)
  }
})
