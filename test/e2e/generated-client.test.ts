// The whole two-factor journey over a real socket, only through the client generated from the
// committed OpenAPI document (openapi/client): paths, bodies and responses are the document's
// types, so the server and its document must agree for this file to compile and pass.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createTwofoldClient, type TwofoldClient } from '../../openapi/client/index.js'
import { buildTestApp, TestClock } from '../helper.js'
import { TFA_REQUIRED_BODY } from '../flows.js'

interface Documented { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> }
const document = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Documented

/** The code an authenticator shows at `ms` (the test clock), from the reference implementation. */
const oathtool = (secret: string, ms: number) =>
  execFileSync('oathtool', ['--totp', '-b', '-N', `@${Math.floor(ms / 1000)}`, secret], { encoding: 'utf8' }).trim()

const amrOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { amr: string[] }).amr

interface Result<D, E> { data?: D, error?: E, response: Response }

/** Asserts the status and returns the typed success body. */
function dataOf<D, E> (t: Test, result: Result<D, E>, status: number): D {
  t.equal(result.response.status, status, `${result.response.url}: status`)
  if (result.data === undefined) throw new Error(`${result.response.url}: ${result.response.status} ${JSON.stringify(result.error)}`)
  return result.data
}

const clock = new TestClock(Date.now())
const app = await buildTestApp(t, undefined, { now: clock.now })
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo
const baseUrl = `http://127.0.0.1:${port}`

// Every response must be one the document lists for its operation, with the documented media
// type; each raw body is kept so the tests can compare bytes.
const rawBodies = new WeakMap<Response, string>()
const undocumented: string[] = []
function watched (client: TwofoldClient): TwofoldClient {
  client.use({
    async onResponse ({ request, response, schemaPath }) {
      const operation = document.paths[schemaPath]?.[request.method.toLowerCase()]
      const documented = operation?.responses[String(response.status)]
      if (documented === undefined) {
        undocumented.push(`${request.method} ${schemaPath} answered ${response.status}, which the document does not list`)
      } else {
        const type = response.headers.get('content-type')?.split(';')[0] ?? ''
        if (documented.content !== undefined && !(type in documented.content)) {
          undocumented.push(`${request.method} ${schemaPath} ${response.status} answered ${type}, not ${Object.keys(documented.content).join(', ')}`)
        }
      }
      rawBodies.set(response, await response.clone().text())
    }
  })
  return client
}
const client = watched(createTwofoldClient(baseUrl))

t.test('password + TOTP journey through the generated client', async (t) => {
  const username = `e2e-${randomBytes(4).toString('hex')}`
  const password = 'correct horse battery staple'

  const health = dataOf(t, await client.GET('/healthz'), 200)
  t.equal(health.status, 'ok')

  const user = dataOf(t, await client.POST('/users', { body: { username, password } }), 201)
  t.match(user, { id: /^[0-9a-f-]{36}$/, username })

  const first = dataOf(t, await client.POST('/login', { body: { username, password } }), 200)
  t.equal(first.token_type, 'Bearer')
  t.type(first.expires_in, 'number')
  t.same(amrOf(first.access_token), ['pwd'])
  client.setToken(first.access_token)

  const me = dataOf(t, await client.GET('/me'), 200)
  t.same(me, { id: user.id, username })

  const before = dataOf(t, await client.GET('/tfa'), 200)
  t.same(before, { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })

  const enrolment = dataOf(t, await client.POST('/tfa/enable'), 200)
  t.match(enrolment.secret, /^[A-Z2-7]{32}$/)
  t.match(enrolment.otpauth_url, /^otpauth:\/\/totp\/[^?]+:e2e-[0-9a-f]{8}\?/)
  t.equal(new URL(enrolment.otpauth_url).searchParams.get('secret'), enrolment.secret)
  t.match(enrolment.qr_code, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/)
  const png = Buffer.from(enrolment.qr_code.slice('data:image/png;base64,'.length), 'base64')
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'qr_code is a PNG')
  t.type(enrolment.warning, 'string')
  t.ok(enrolment.warning.length > 0, 'a warning about API logins')

  const pending = dataOf(t, await client.GET('/tfa'), 200)
  t.equal(pending.enabled, false)
  t.equal(pending.pending, true)

  const secret = enrolment.secret
  const activated = dataOf(t, await client.POST('/tfa/validate', { body: { totp: oathtool(secret, clock.now()), device_name: 'e2e phone' } }), 200)
  t.equal(activated.enabled, true)
  t.equal(activated.device_name, 'e2e phone')
  t.equal(activated.recovery_codes.length, 10)

  // The password alone is no longer enough: the documented body, byte for byte.
  const passwordOnly = await client.POST('/login', { body: { username, password } })
  t.equal(passwordOnly.response.status, 401)
  t.equal(passwordOnly.data, undefined)
  // (openapi-fetch's error type drops `identity`, a property whose type is `null`: an upstream
  // bug in openapi-typescript-helpers' Readable; the value is checked here all the same.)
  const tfaRequired = passwordOnly.error
  t.same(tfaRequired, JSON.parse(TFA_REQUIRED_BODY))
  t.same(tfaRequired?.error, { message: 'Additional authentications steps required.', code: 401, identity: null, title: 'Unauthorized' })
  t.equal(rawBodies.get(passwordOnly.response), TFA_REQUIRED_BODY)
  t.match(passwordOnly.response.headers.get('content-type'), /^application\/json/)

  // The two-step form: that 401's receipt and the code, without the password again; this device is remembered.
  const receipt = passwordOnly.response.headers.get('x-tfa-receipt')
  t.match(receipt, /^twofold_lr_/)
  clock.advance(30_000)
  const viaReceipt = dataOf(t, await client.POST('/login/tfa', { body: { receipt: receipt ?? '', totp: oathtool(secret, clock.now()), remember_device: true } }), 200)
  t.same(amrOf(viaReceipt.access_token), ['pwd', 'otp', 'mfa'])
  t.match(viaReceipt.device_token, /^twofold_td_/)
  const remembered = dataOf(t, await client.POST('/login', { body: { username, password, device_token: viaReceipt.device_token ?? '' } }), 200)
  t.same(amrOf(remembered.access_token), ['pwd'], 'the remembered device stood in for the code')
  t.not(remembered.device_token, viaReceipt.device_token, 'rotated')
  client.setToken(remembered.access_token)
  const { devices } = dataOf(t, await client.GET('/tfa/trusted-devices'), 200)
  t.equal(devices.length, 1)
  t.equal((await client.DELETE('/tfa/trusted-devices/{id}', { params: { path: { id: devices[0]?.id ?? '' } } })).response.status, 204)
  client.setToken(undefined)

  // The next step's code, typed directly after the password.
  clock.advance(30_000)
  const second = dataOf(t, await client.POST('/login', { body: { username, password: password + oathtool(secret, clock.now()) } }), 200)
  t.equal(second.token_type, 'Bearer')
  t.same(amrOf(second.access_token), ['pwd', 'otp', 'mfa'])
  client.setToken(second.access_token)

  const on = dataOf(t, await client.GET('/tfa'), 200)
  t.same(on, { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'e2e phone', recovery_codes_left: 10 })

  clock.advance(30_000)
  const disabled = dataOf(t, await client.POST('/tfa/disable', { body: { totp: oathtool(secret, clock.now()) } }), 200)
  t.same(disabled, { enabled: false })

  const off = dataOf(t, await client.GET('/tfa'), 200)
  t.same(off, { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })

  // And the password alone works again.
  const third = dataOf(t, await client.POST('/login', { body: { username, password } }), 200)
  t.same(amrOf(third.access_token), ['pwd'])

  // A frontend keeps the session going with the refresh token, lists it, and logs out.
  if (third.refresh_token === undefined) throw new Error('a login answers a refresh token')
  const refreshed = dataOf(t, await client.POST('/token/refresh', { body: { refresh_token: third.refresh_token } }), 200)
  t.equal(refreshed.session_id, third.session_id, 'the same session')
  t.not(refreshed.refresh_token, third.refresh_token, 'a rotated refresh token')
  client.setToken(refreshed.access_token)
  const { sessions } = dataOf(t, await client.GET('/sessions'), 200)
  t.ok(sessions.some(s => s.id === third.session_id && s.current), 'listed, and marked current')
  t.equal((await client.POST('/logout')).response.status, 204)
  t.equal((await client.GET('/me')).response.status, 401, 'logged out')
  const again = await client.POST('/token/refresh', { body: { refresh_token: refreshed.refresh_token ?? '' } })
  t.equal(again.response.status, 401, 'the refresh token died with the session')
})

t.test('errors come back as the documented envelope', async (t) => {
  const anonymous = watched(createTwofoldClient(baseUrl))
  const res = await anonymous.GET('/me')
  t.equal(res.response.status, 401)
  t.match(res.error, { error: { code: 401, identity: null, title: 'Unauthorized', message: String } })
})

t.test('every response was one the document lists', async (t) => {
  t.same(undocumented, [])
})
