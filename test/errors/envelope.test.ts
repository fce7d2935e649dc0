import { STATUS_CODES } from 'node:http'
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/app.js'
import { AppError, ErrorCatalogue, errorBody } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { bearer, register } from '../flows.js'

/**
 * The response is exactly the envelope, byte for byte: keys message, code, identity, title in
 * that order, title the reason phrase, nothing else. Returns the message.
 */
function assertEnvelope (t: Test, res: LightMyRequestResponse, status: number, message?: string | RegExp): string {
  t.equal(res.statusCode, status, `status ${status}`)
  t.match(res.headers['content-type'], /^application\/json/, 'JSON')
  const body = res.json() as { error: { message: string } }
  t.same(Object.keys(body), ['error'])
  t.same(Object.keys(body.error), ['message', 'code', 'identity', 'title'], 'key order')
  t.equal(res.body, JSON.stringify(errorBody(status, body.error.message)), 'exactly the envelope')
  t.equal(res.body, `{"error":{"message":${JSON.stringify(body.error.message)},"code":${status},"identity":null,"title":"${STATUS_CODES[status]}"}}`)
  t.type(body.error.message, 'string')
  t.not(body.error.message, '')
  if (typeof message === 'string') t.equal(body.error.message, message, 'message')
  else if (message) t.match(body.error.message, message, 'message')
  return body.error.message
}

const app = await buildTestApp(t)

t.test('400: validation', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/users', payload: { username: 'has space', password: 'long enough' } })
  const message = assertEnvelope(t, res, 400, /^Invalid body/)
  t.match(message, 'username')
  const missing = await app.inject({ method: 'POST', url: '/users', payload: { password: 'long enough' } })
  assertEnvelope(t, missing, 400, /username/)
  const extra = await app.inject({ method: 'POST', url: '/users', payload: { username: 'x', password: 'long enough', admin: true } })
  assertEnvelope(t, extra, 400)
  const malformed = await app.inject({ method: 'POST', url: '/users', headers: { 'content-type': 'application/json' }, payload: '{"username":' })
  assertEnvelope(t, malformed, 400)
  const empty = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '' })
  assertEnvelope(t, empty, 400, ErrorCatalogue.validation.message)
  const short = await app.inject({ method: 'POST', url: '/users', payload: { username: 'shorty', password: 'short' } })
  assertEnvelope(t, short, 400, /at least 8 bytes/)
  const long = await app.inject({ method: 'POST', url: '/users', payload: { username: 'longy', password: 'x'.repeat(73) } })
  assertEnvelope(t, long, 400, ErrorCatalogue.passwordTooLong.message)
})

t.test('401: missing or invalid token', async (t) => {
  assertEnvelope(t, await app.inject({ method: 'GET', url: '/me' }), 401, ErrorCatalogue.unauthenticated.message)
  assertEnvelope(t, await app.inject({ method: 'GET', url: '/me', headers: bearer('garbage') }), 401, ErrorCatalogue.unauthenticated.message)
  assertEnvelope(t, await app.inject({ method: 'GET', url: '/me', headers: { authorization: 'Basic dTpw' } }), 401, ErrorCatalogue.unauthenticated.message)
  await register(app, 'envelope401', 'correct horse')
  const wrong = await app.inject({ method: 'POST', url: '/login', payload: { username: 'envelope401', password: 'wrong horse' } })
  assertEnvelope(t, wrong, 401, ErrorCatalogue.invalidCredentials.message)
})

t.test('403: registration closed', async (t) => {
  const closed = await buildTestApp(t, testConfig({ REGISTRATION: 'closed', DATABASE_URL: await createTestDatabase(t) }))
  const res = await closed.inject({ method: 'POST', url: '/users', payload: { username: 'newcomer', password: 'correct horse' } })
  assertEnvelope(t, res, 403, ErrorCatalogue.registrationClosed.message)
  const count = await closed.prisma.user.count()
  t.equal(count, 0, 'nobody was created')
})

t.test('404: unknown route', async (t) => {
  assertEnvelope(t, await app.inject({ method: 'GET', url: '/nope?x=1' }), 404, 'Route GET /nope not found.')
  assertEnvelope(t, await app.inject({ method: 'DELETE', url: '/users' }), 404)
})

t.test('409: username taken, whatever its case', async (t) => {
  await register(app, 'taken', 'correct horse')
  const same = await app.inject({ method: 'POST', url: '/users', payload: { username: 'taken', password: 'another horse' } })
  assertEnvelope(t, same, 409, ErrorCatalogue.usernameTaken.message)
  const upper = await app.inject({ method: 'POST', url: '/users', payload: { username: 'TaKeN', password: 'another horse' } })
  assertEnvelope(t, upper, 409, ErrorCatalogue.usernameTaken.message)
  t.equal(await app.prisma.user.count({ where: { username: 'taken' } }), 1)
})

t.test('413: body over 64 KiB', async (t) => {
  const payload = JSON.stringify({ username: 'big', password: 'x'.repeat(65 * 1024) })
  const res = await app.inject({ method: 'POST', url: '/users', headers: { 'content-type': 'application/json' }, payload })
  assertEnvelope(t, res, 413, ErrorCatalogue.payloadTooLarge.message)
})

t.test('415: not JSON', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/users', headers: { 'content-type': 'text/plain' }, payload: 'username=x&password=y' })
  assertEnvelope(t, res, 415, ErrorCatalogue.unsupportedMediaType.message)
  const form = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=x&password=y' })
  assertEnvelope(t, form, 415, ErrorCatalogue.unsupportedMediaType.message)
})

t.test('429: login rate limit per IP, with Retry-After', async (t) => {
  const limited = await buildTestApp(t, testConfig({ RATE_LIMIT_LOGIN_MAX: '2', DATABASE_URL: await createTestDatabase(t) }))
  // Different usernames: only the per-IP limit applies.
  for (const username of ['a1', 'a2']) {
    const res = await limited.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.7', payload: { username, password: 'whatever1' } })
    t.equal(res.statusCode, 401, `attempt ${username} is counted, not limited`)
  }
  const res = await limited.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.7', payload: { username: 'a3', password: 'whatever1' } })
  assertEnvelope(t, res, 429, ErrorCatalogue.rateLimited.message)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After is a positive number of seconds (${res.headers['retry-after']})`)
  const other = await limited.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.8', payload: { username: 'a4', password: 'whatever1' } })
  t.equal(other.statusCode, 401, 'another IP is not limited')
})

t.test('500: an unexpected error says nothing about itself', async (t) => {
  const config = testConfig({ DATABASE_URL: await createTestDatabase(t) })
  const boomApp = await buildApp(config)
  t.teardown(() => boomApp.close())
  boomApp.get('/boom', async () => { throw new Error('db password is hunter2 at /srv/secret') })
  await boomApp.ready()
  const res = await boomApp.inject({ method: 'GET', url: '/boom' })
  assertEnvelope(t, res, 500, ErrorCatalogue.internal.message)
  t.notMatch(res.body, 'hunter2')
  t.notMatch(res.body, '/srv/secret')
  t.notMatch(res.body, 'stack')
})

t.test('503: overloaded password hashing', async (t) => {
  // One hash at a time: concurrent registrations beyond it are refused at once.
  const busy = await buildTestApp(t, testConfig({ MAX_PENDING_HASHES: '1', BCRYPT_COST: '10', DATABASE_URL: await createTestDatabase(t) }))
  const responses = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    busy.inject({ method: 'POST', url: '/users', payload: { username: `busy${i}`, password: 'correct horse' } })))
  const refused = responses.filter(r => r.statusCode === 503)
  t.ok(responses.some(r => r.statusCode === 201), 'one went through')
  t.ok(refused.length > 0, 'some were refused')
  for (const res of refused) {
    assertEnvelope(t, res, 503, ErrorCatalogue.overloaded.message)
    t.equal(res.headers['retry-after'], '1')
  }
  t.same(responses.map(r => r.statusCode).filter(s => s !== 201 && s !== 503), [], 'nothing else')
})

t.test('every catalogue entry renders as its envelope', async (t) => {
  for (const [name, { status, message }] of Object.entries(ErrorCatalogue)) {
    t.ok(STATUS_CODES[status], `${name}: ${status} is a known status`)
    t.equal(JSON.stringify(errorBody(status, message)),
      `{"error":{"message":${JSON.stringify(message)},"code":${status},"identity":null,"title":"${STATUS_CODES[status]}"}}`, name)
  }
  t.equal(ErrorCatalogue.overloaded.status, 503)
  t.equal(ErrorCatalogue.unavailable.status, 503)
})

t.test('an AppError carries no stack trace (it is an answer, and capturing one costs each refusal)', async (t) => {
  const before = Error.stackTraceLimit
  const err = new AppError('tfaRequired', { headers: { 'x-tfa-method': 'totp' } })
  t.notMatch(err.stack, /\n/, 'no frames: only the message line')
  t.equal(Error.stackTraceLimit, before, 'other errors keep their traces')
  t.match(new Error('x').stack, /\n\s+at /, 'an ordinary error still has frames')
  t.equal(err.statusCode, 401)
  t.ok(err instanceof Error)
})
