import t from 'tap'
import { generateTotpCode } from '../../../src/auth/totp.js'
import { ErrorCatalogue } from '../../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../../helper.js'
import { bearer, createTfaUser, loginToken, plainUser, randomUsername, STEP_MS, UNAUTHENTICATED_BODY, wrongCode } from '../../flows.js'

// Named devices and the audit trail (seed 000: "what happened to my account?", for the user and
// the support desk).
const ADMIN = 'desk'
const ADMIN_PASSWORD = 'desk admin password'
const UA = 'Mozilla/5.0 (devices-events test) Firefox/140.0'
const ADMIN_UA = 'support-console/2.1'
const PASSWORD = 'correct horse battery'
const NEW_PASSWORD = 'a brand new passphrase'

const clock = new TestClock()
const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), ADMIN_USERNAME: ADMIN, ADMIN_PASSWORD }), { now: clock.now })
const adminToken = await loginToken(app, { username: ADMIN, password: ADMIN_PASSWORD })

interface SecurityEvent { id: string, type: string, created_at: string, ip: string | null, user_agent: string | null, detail: Record<string, unknown> | null }
interface EventPage { events: SecurityEvent[], next_cursor: string | null }

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH'
/**
 * A request from the user's browser: always the same User-Agent. The clock moves on a millisecond
 * first, so each request's events are newer than the previous request's.
 */
async function call (method: Method, url: string, token?: string, payload?: Record<string, unknown>, ua = UA) {
  clock.advance(1)
  return await app.inject({ method, url, headers: { 'user-agent': ua, ...(token !== undefined ? bearer(token) : {}) }, ...(payload ? { payload } : {}) })
}
const asAdmin = async (method: Method, url: string) => await call(method, url, adminToken, undefined, ADMIN_UA)

/** Every event of a page walk with `limit`, checking the pages fit together. */
async function walk (url: string, token: string, limit: number): Promise<{ events: SecurityEvent[], pages: EventPage[] }> {
  const events: SecurityEvent[] = []
  const pages: EventPage[] = []
  let cursor: string | null = null
  for (let i = 0; i < 1000; i++) {
    const res = await call('GET', `${url}?limit=${limit}${cursor !== null ? `&cursor=${cursor}` : ''}`, token, undefined, token === adminToken ? ADMIN_UA : UA)
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    const page = res.json() as EventPage
    pages.push(page)
    events.push(...page.events)
    cursor = page.next_cursor
    if (cursor === null) return { events, pages }
  }
  throw new Error('the pages never end')
}

/** Newest first: created_at descending, ties broken by id descending (the keyset order). */
function isNewestFirst (events: SecurityEvent[]): boolean {
  return events.every((e, i) => {
    if (i === 0) return true
    const prev = events[i - 1]!
    return prev.created_at > e.created_at || (prev.created_at === e.created_at && prev.id > e.id)
  })
}

t.test('devices: the name given at /tfa/validate, in GET /tfa and in the admin view', async (t) => {
  const user = await plainUser(app)
  const { secret } = (await call('POST', '/tfa/enable', user.token)).json() as { secret: string }
  const tooLong = await call('POST', '/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now()), device_name: 'x'.repeat(65) })
  t.equal(tooLong.statusCode, 400, 'at most 64 characters')
  const empty = await call('POST', '/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now()), device_name: '' })
  t.equal(empty.statusCode, 400, 'not empty')
  const validate = await call('POST', '/tfa/validate', user.token, { totp: generateTotpCode(secret, clock.now()), device_name: 'Pixel 8 (Anna)' })
  t.equal(validate.statusCode, 200, validate.body)
  t.equal(validate.json().device_name, 'Pixel 8 (Anna)')
  t.same((await call('GET', '/tfa', user.token)).json(), { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'Pixel 8 (Anna)', recovery_codes_left: 10 })
  const view = await asAdmin('GET', `/admin/users/${user.id}`)
  t.equal(view.statusCode, 200)
  t.same(view.json().tfa.devices, [{ name: 'Pixel 8 (Anna)', type: 'totp' }])
  t.equal(view.json().tfa.devices[0].name, 'Pixel 8 (Anna)')
})

t.test('devices: without a name, "unnamed"', async (t) => {
  const user = await createTfaUser(app, clock)
  t.equal((await call('GET', '/tfa', user.token)).json().device_name, 'unnamed')
  t.same((await asAdmin('GET', `/admin/users/${user.id}`)).json().tfa.devices, [{ name: 'unnamed', type: 'totp' }])
})

t.test('devices: PATCH /tfa renames (200 with the status), seen everywhere', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await call('PATCH', '/tfa', user.token, { device_name: 'Work iPhone' })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { enabled: true, method: 'totp', phone: null, pending: false, device_name: 'Work iPhone', recovery_codes_left: 10 })
  t.equal((await call('GET', '/tfa', user.token)).json().device_name, 'Work iPhone')
  t.same((await asAdmin('GET', `/admin/users/${user.id}`)).json().tfa.devices, [{ name: 'Work iPhone', type: 'totp' }])
  // The factor itself is untouched: the same secret still logs in.
  const login = await call('POST', '/login', undefined, { username: user.username, password: user.password, totp: user.code() })
  t.equal(login.statusCode, 200)
  // A name of exactly 64 characters is fine; 65 is not, nor empty, nor other fields.
  t.equal((await call('PATCH', '/tfa', user.token, { device_name: 'y'.repeat(64) })).statusCode, 200)
  for (const payload of [{ device_name: 'y'.repeat(65) }, { device_name: '' }, {}, { device_name: 'ok', enabled: false }, { device_name: 42 }]) {
    t.equal((await call('PATCH', '/tfa', user.token, payload)).statusCode, 400, JSON.stringify(payload))
  }
  t.equal((await call('GET', '/tfa', user.token)).json().device_name, 'y'.repeat(64))
  const anonymous = await call('PATCH', '/tfa', undefined, { device_name: 'x' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.body, UNAUTHENTICATED_BODY)
})

t.test('devices: PATCH /tfa is 409 when TFA is off (or only pending), and a disable removes the device', async (t) => {
  const user = await plainUser(app)
  const off = await call('PATCH', '/tfa', user.token, { device_name: 'phone' })
  t.equal(off.statusCode, 409)
  t.equal(off.json().error.message, ErrorCatalogue.tfaNotEnabled.message)
  await call('POST', '/tfa/enable', user.token)
  const pending = await call('PATCH', '/tfa', user.token, { device_name: 'phone' })
  t.equal(pending.statusCode, 409, 'pending is not on')

  const tfaUser = await createTfaUser(app, clock)
  t.equal((await call('POST', '/tfa/disable', tfaUser.token, { totp: tfaUser.code() })).statusCode, 200)
  t.equal((await call('GET', '/tfa', tfaUser.token)).json().device_name, null)
  t.same((await asAdmin('GET', `/admin/users/${tfaUser.id}`)).json().tfa.devices, [])
  t.equal((await call('PATCH', '/tfa', tfaUser.token, { device_name: 'phone' })).statusCode, 409)
})

t.test('the audit trail: every event type, with ip, user agent and facts — and never a secret', async (t) => {
  const username = randomUsername()
  const codes: string[] = []
  const tokens: string[] = [adminToken]
  const secrets: string[] = []
  const recoveryCodes: string[] = []
  /** A fresh TOTP step for every code, remembered for the leak scan. */
  const codeOf = (secret: string) => {
    clock.advance(STEP_MS)
    const code = generateTotpCode(secret, clock.now())
    codes.push(code)
    return code
  }
  const track = <T extends { statusCode: number, body: string }>(res: T, expected: number, label: string): T => {
    t.equal(res.statusCode, expected, `${label}: ${expected}`)
    const token = (JSON.parse(res.body || '{}') as { access_token?: string }).access_token
    if (token !== undefined) tokens.push(token)
    return res
  }

  const registered = track(await call('POST', '/users', undefined, { username, password: PASSWORD }), 201, 'register')
  const userId = registered.json().id as string
  const token = track(await call('POST', '/login', undefined, { username, password: PASSWORD }), 200, 'login').json().access_token as string
  track(await call('POST', '/login', undefined, { username, password: 'wrong password 1' }), 401, 'wrong password')

  const enable = track(await call('POST', '/tfa/enable', token), 200, 'enable')
  const { secret } = enable.json() as { secret: string }
  secrets.push(secret)
  const validate = track(await call('POST', '/tfa/validate', token, { totp: codeOf(secret), device_name: 'Pixel 8' }), 200, 'validate')
  recoveryCodes.push(...(validate.json().recovery_codes as string[]))

  const mfaToken = track(await call('POST', '/login', undefined, { username, password: PASSWORD, totp: codeOf(secret) }), 200, 'login with a code').json().access_token as string
  track(await call('POST', '/login', undefined, { username, password: PASSWORD, totp: wrongCode(secret, clock.now()) }), 401, 'wrong code')
  track(await call('POST', '/login', undefined, { username, password: PASSWORD, recovery_code: recoveryCodes[0]! }), 200, 'login with a recovery code')
  track(await call('PATCH', '/tfa', token, { device_name: 'Pixel 9' }), 200, 'rename')
  track(await call('PUT', '/tfa/settings', token, { protected_actions: ['login', 'password_change'], totp: codeOf(secret) }), 200, 'settings')
  const regen = track(await call('POST', '/tfa/recovery-codes', token, { totp: codeOf(secret) }), 200, 'regenerate')
  recoveryCodes.push(...(regen.json().recovery_codes as string[]))
  track(await call('POST', '/password', token, { current_password: PASSWORD, new_password: NEW_PASSWORD, totp: codeOf(secret) }), 204, 'password change')
  // Code appended to the password, the way a login form sends it.
  track(await call('POST', '/login', undefined, { username, password: NEW_PASSWORD + codeOf(secret) }), 200, 'login with an appended code')

  for (let i = 0; i < 4; i++) track(await call('POST', '/login', undefined, { username, password: NEW_PASSWORD, totp: wrongCode(secret, clock.now()) }), 401, `wrong code ${i + 2}`)
  clock.advance(STEP_MS)
  track(await call('POST', '/login', undefined, { username, password: NEW_PASSWORD, totp: wrongCode(secret, clock.now()) }), 429, 'the locking code')
  track(await call('POST', '/login', undefined, { username, password: NEW_PASSWORD, totp: codeOf(secret) }), 429, 'a right code while locked')
  clock.advance(STEP_MS)
  track(await asAdmin('POST', `/admin/users/${userId}/tfa/unlock`), 200, 'admin unlock')
  // The password change signed out every other session (mfaToken's too): the changing one goes on.
  track(await call('GET', '/me', mfaToken), 401, 'a session ended by the password change')
  track(await call('POST', '/tfa/disable', token, { totp: codeOf(secret) }), 200, 'disable')

  const enable2 = track(await call('POST', '/tfa/enable', token), 200, 'enable again')
  const secret2 = (enable2.json() as { secret: string }).secret
  secrets.push(secret2)
  const validate2 = track(await call('POST', '/tfa/validate', token, { totp: codeOf(secret2) }), 200, 'validate again')
  recoveryCodes.push(...(validate2.json().recovery_codes as string[]))
  clock.advance(STEP_MS)
  track(await asAdmin('POST', `/admin/users/${userId}/tfa/reset`), 200, 'admin reset')
  const adminId = (await app.prisma.user.findUniqueOrThrow({ where: { username: ADMIN }, select: { id: true } })).id

  // The reset ended every session: the user logs in again to read the trail.
  track(await call('GET', '/me', token), 401, 'a session ended by the reset')
  clock.advance(1)
  const afterReset = track(await call('POST', '/login', undefined, { username, password: NEW_PASSWORD }), 200, 'login after the reset').json().access_token as string
  const { events, pages } = await walk('/tfa/events', afterReset, 7)
  t.ok(pages.length > 1, `several pages (${pages.length})`)
  t.ok(isNewestFirst(events), 'newest first')
  t.equal(new Set(events.map(e => e.id)).size, events.length, 'no duplicates')
  t.equal(events.length, await app.prisma.securityEvent.count({ where: { userId } }), 'every event of the user')
  t.equal(events[0]!.type, 'login.succeeded', 'the newest is the last thing that happened')
  t.equal(events.find(e => e.type.startsWith('admin.'))!.type, 'admin.tfa_reset', 'the last thing the desk did')
  t.equal(events[events.length - 1]!.type, 'user.registered', 'the oldest is the first')

  const types = new Set(events.map(e => e.type))
  for (const type of [
    'user.registered', 'login.succeeded', 'login.failed', 'tfa.enrolment_started', 'tfa.enabled', 'tfa.disabled', 'tfa.locked',
    'tfa.recovery_code_used', 'tfa.recovery_codes_regenerated', 'tfa.device_renamed', 'tfa.settings_changed', 'password.changed',
    'admin.tfa_reset', 'admin.tfa_unlocked', 'session.ended'
  ]) t.ok(types.has(type), `${type} recorded`)

  for (const event of events) {
    t.equal(event.ip, '127.0.0.1', `${event.type}: ip`)
    const byAdmin = event.type.startsWith('admin.') || event.detail?.by !== undefined
    t.equal(event.user_agent, byAdmin ? ADMIN_UA : UA, `${event.type}: user agent`)
    t.match(event.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  }

  const of = (type: string) => events.filter(e => e.type === type).reverse() // oldest first
  t.same(of('login.succeeded').map(e => e.detail?.amr), [['pwd'], ['pwd', 'otp', 'mfa'], ['pwd', 'mfa'], ['pwd', 'otp', 'mfa'], ['pwd']], 'login.succeeded: amr of each login')
  t.same(of('session.ended').map(e => e.detail?.reason), ['password_changed', 'tfa_disabled', 'tfa_reset'], 'session.ended: each security event that ended other sessions (none were open at the enrolments)')
  t.same(of('login.failed').map(e => e.detail?.reason), ['password', 'code', 'code', 'code', 'code', 'code', 'locked', 'locked'], 'login.failed: the reasons')
  t.same(of('login.failed').map(e => e.detail?.action), Array(8).fill('login'))
  t.same(of('tfa.enabled').map(e => e.detail), [{ device_name: 'Pixel 8' }, { device_name: 'unnamed' }])
  t.same(of('tfa.device_renamed').map(e => e.detail), [{ device_name: 'Pixel 9' }])
  t.same(of('tfa.settings_changed').map(e => e.detail), [{ protected_actions: ['login', 'password_change'] }])
  t.same(of('tfa.recovery_code_used').map(e => e.detail), [{ action: 'login' }])
  t.same(of('tfa.locked').map(e => e.detail), [{ failures: 5, lock_seconds: 900 }])
  t.same(of('tfa.disabled').map(e => e.detail), [{ method: 'otp', factor: 'totp' }])
  t.same(of('admin.tfa_unlocked').map(e => e.detail), [{ by: adminId }])
  t.same(of('admin.tfa_reset').map(e => e.detail), [{ by: adminId }])
  t.equal(of('tfa.enrolment_started').length, 2)
  t.equal(of('password.changed').length, 1)
  t.equal(of('tfa.recovery_codes_regenerated').length, 1)

  // The support desk sees the same trail.
  const adminWalk = await walk(`/admin/users/${userId}/events`, adminToken, 5)
  t.same(adminWalk.events, events, 'the admin route pages through the same events')

  // No secret anywhere: the raw table (every user's rows) and every page served.
  await app.audit.flush()
  const rows = await app.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>('SELECT type, detail::text AS detail, ip, user_agent FROM security_events')
  t.ok(rows.length >= events.length)
  const raw = JSON.stringify(rows)
  const served = JSON.stringify(pages) + JSON.stringify(adminWalk.pages)
  const needles = [
    PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD, 'wrong password 1',
    ...secrets, ...secrets.map(s => s.toLowerCase()),
    ...recoveryCodes, ...recoveryCodes.map(c => c.replace(/-/g, '')), ...recoveryCodes.map(c => c.toUpperCase()),
    ...tokens, ...tokens.map(tok => tok.split('.')[2]!)
  ]
  t.ok(codes.length >= 8, `${codes.length} codes used`)
  // Six-digit codes could appear by chance inside a uuid (detail.by): look for them elsewhere.
  const withoutUuids = (s: string) => s.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
  for (const [label, text] of [['security_events table', raw], ['served pages', served]] as const) {
    t.same(needles.filter(n => text.includes(n)), [], `${label}: no password, secret, recovery code or token`)
    t.same(codes.filter(c => withoutUuids(text).includes(c)), [], `${label}: no TOTP code`)
  }
})

t.test('events pagination: more than a page, walked with cursors, no duplicates, newest first', async (t) => {
  const username = randomUsername()
  await call('POST', '/users', undefined, { username, password: PASSWORD })
  const user = { username, token: (await call('POST', '/login', undefined, { username, password: PASSWORD })).json().access_token as string }
  for (let i = 0; i < 21; i++) {
    // Events in threes share a millisecond (ties are broken by id).
    if (i % 3 === 0) clock.advance(1)
    await app.inject({ method: 'POST', url: '/login', payload: { username, password: `wrong password ${i}` } })
  }
  await call('POST', '/login', undefined, { username, password: PASSWORD })
  const total = 24
  await app.audit.flush()
  t.equal(await app.prisma.securityEvent.count({ where: { user: { username } } }), total)
  t.ok(new Set((await app.prisma.securityEvent.findMany({ where: { user: { username } } })).map(e => e.createdAt.getTime())).size < total, 'some events share a millisecond')

  const all = (await call('GET', '/tfa/events?limit=100', user.token)).json() as EventPage
  t.equal(all.events.length, total)
  t.equal(all.next_cursor, null)
  t.ok(isNewestFirst(all.events), 'one page: newest first')
  t.equal(all.events[0]!.type, 'login.succeeded', 'the last login first')
  t.equal(all.events[total - 1]!.type, 'user.registered')

  for (const limit of [1, 5, 7, 23, 24]) {
    const { events, pages } = await walk('/tfa/events', user.token, limit)
    t.same(events.map(e => e.id), all.events.map(e => e.id), `limit ${limit}: the same events in the same order`)
    t.equal(new Set(events.map(e => e.id)).size, total, `limit ${limit}: no duplicates`)
    t.equal(pages.length, Math.ceil(total / limit), `limit ${limit}: ${pages.length} pages`)
    for (const page of pages.slice(0, -1)) t.equal(page.events.length, limit)
    t.equal(pages[pages.length - 1]!.next_cursor, null)
  }

  // The default page is 20.
  const first = (await call('GET', '/tfa/events', user.token)).json() as EventPage
  t.equal(first.events.length, 20)
  t.equal(first.next_cursor, first.events[19]!.id)
  const second = (await call('GET', `/tfa/events?cursor=${first.next_cursor}`, user.token)).json() as EventPage
  t.same(second.events.map(e => e.id), all.events.slice(20).map(e => e.id))
  t.equal(second.next_cursor, null)

  for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=2.5', 'cursor=not-a-uuid', 'other=1']) {
    t.equal((await call('GET', `/tfa/events?${query}`, user.token)).statusCode, 400, query)
  }
})

t.test('events are private: a user sees only their own, the admin route only the one asked for', async (t) => {
  const alice = await plainUser(app)
  const bob = await plainUser(app)
  await call('POST', '/login', undefined, { username: bob.username, password: 'wrong password' })
  const aliceEvents = (await call('GET', '/tfa/events?limit=100', alice.token)).json() as EventPage
  const bobEvents = (await call('GET', '/tfa/events?limit=100', bob.token)).json() as EventPage
  const bobIds = new Set(bobEvents.events.map(e => e.id))
  t.ok(aliceEvents.events.length >= 2)
  t.notOk(aliceEvents.events.some(e => bobIds.has(e.id)), 'none of bob\'s events for alice')
  t.notOk(aliceEvents.events.some(e => e.type === 'login.failed'))
  // Bob's cursor does not open Alice's trail to Bob, nor Bob's to Alice.
  const crossed = (await call('GET', `/tfa/events?cursor=${bobEvents.events[0]!.id}&limit=100`, alice.token)).json() as EventPage
  t.notOk(crossed.events.some(e => bobIds.has(e.id)))
  const viaAdmin = (await asAdmin('GET', `/admin/users/${alice.id}/events?limit=100`)).json() as EventPage
  t.same(viaAdmin.events.map(e => e.id), aliceEvents.events.map(e => e.id))
  const anonymous = await call('GET', '/tfa/events')
  t.equal(anonymous.statusCode, 401)
})
