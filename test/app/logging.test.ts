import { Writable } from 'node:stream'
import t from 'tap'
import { buildTestApp, createTestDatabase, testConfig, testSigningKey } from '../helper.js'
import { bearer, register } from '../flows.js'

// Every line the app logs, at the most verbose level.
const lines: string[] = []
const logStream = new Writable({
  write (chunk: Buffer, _encoding, callback) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    callback()
  }
})
const log = () => lines.join('\n')

const JWT_SIGNING_KEY = testSigningKey()
const JWT_KEY_BODY = JWT_SIGNING_KEY.split('\n')[1]!
const CLIENT_SECRET = 'introspection-secret-never-logged-0123456789'
const app = await buildTestApp(t, testConfig({ LOG_LEVEL: 'trace', JWT_SIGNING_KEY, INTROSPECTION_CLIENTS: `rs:${CLIENT_SECRET}`, DATABASE_URL: await createTestDatabase(t) }), { logStream })

const PASSWORD = 'pw-Zq7-never-in-logs'

t.test('secrets of a register/login session never reach the log', async (t) => {
  await register(app, 'logger', PASSWORD)
  const ok = await app.inject({ method: 'POST', url: '/login', payload: { username: 'logger', password: PASSWORD } })
  t.equal(ok.statusCode, 200)
  const token = (ok.json() as { access_token: string }).access_token

  const wrongPassword = 'pw-wrong-Xy9-never-in-logs'
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'logger', password: wrongPassword } })).statusCode, 401)
  const invalidPassword = 'pw-invalid-Kp3-never-in-logs'
  const invalid = await app.inject({ method: 'POST', url: '/login', payload: { username: 'bad name', password: invalidPassword, extra: 1 } })
  t.equal(invalid.statusCode, 400)
  const malformed = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: `{"username":"logger","password":"${invalidPassword}` })
  t.equal(malformed.statusCode, 400)
  const tooLong = 'pw-too-long-' + 'q'.repeat(70)
  t.equal((await app.inject({ method: 'POST', url: '/users', payload: { username: 'toolong', password: tooLong } })).statusCode, 400)

  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode, 200)
  const garbage = 'Bearer garbage-token-Hq2-never-in-logs'
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: garbage, cookie: 'session=cookie-Jm5-never-in-logs' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/nope', headers: bearer(token) })).statusCode, 404)
  const basic = { authorization: `Basic ${Buffer.from(`rs:${CLIENT_SECRET}`).toString('base64')}` }
  const introspected = await app.inject({ method: 'POST', url: '/introspect', headers: { ...basic, 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${token}` })
  t.equal(introspected.json().active, true, 'an introspection (form-encoded) was logged too')
  t.equal((await app.inject({ method: 'POST', url: '/introspect', headers: basic, payload: { token } })).json().active, true, 'and one in JSON')

  const text = log()
  t.ok(lines.length > 10, `the app did log (${lines.length} lines)`)
  t.equal(app.log.level, 'trace', 'logging at the most verbose level')
  t.match(text, '/login', 'requests were logged')
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), 'each line is JSON')
  for (const secret of [PASSWORD, wrongPassword, invalidPassword, tooLong, token, token.split('.')[2] ?? token, 'garbage-token-Hq2', 'cookie-Jm5', JWT_KEY_BODY, CLIENT_SECRET, Buffer.from(`rs:${CLIENT_SECRET}`).toString('base64')]) {
    t.notMatch(text, secret, `not logged: ${secret.slice(0, 16)}…`)
  }
  t.notMatch(text, /Bearer /, 'no Authorization value')
})

t.test('pino redacts password fields wherever they are logged', async (t) => {
  const before = lines.length
  app.log.info({ body: { password: 'x-secret-1' }, password: 'x-secret-2' }, 'redaction check')
  const logged = lines.slice(before).join('\n')
  t.match(logged, 'redaction check')
  t.notMatch(logged, 'x-secret-1')
  t.notMatch(logged, 'x-secret-2')
  const entry = JSON.parse(lines.at(-1) ?? '{}') as { password: string, body: { password: string } }
  t.equal(entry.password, '[redacted]')
  t.equal(entry.body.password, '[redacted]')

  const child = app.log.child({ component: 'test' })
  child.warn({ req: { headers: { authorization: 'Bearer x-secret-3' } }, body: { totp: '123456', recovery_code: 'x-secret-4', new_password: 'x-secret-5' }, access_token: 'x-secret-6' }, 'more')
  child.warn({ body: { receipt: 'x-secret-7', device_token: 'x-secret-8' }, res: { headers: { 'x-tfa-receipt': 'x-secret-9' } } }, 'second step')
  const more = lines.slice(before).join('\n')
  for (const secret of ['x-secret-3', 'x-secret-4', 'x-secret-5', 'x-secret-6', 'x-secret-7', 'x-secret-8', 'x-secret-9', '123456']) t.notMatch(more, secret, `${secret} redacted`)
})
