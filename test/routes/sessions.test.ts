import { Writable } from 'node:stream'
import t from 'tap'
import { errorBody, ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, DEFAULT_PASSWORD, login, plainUser, randomUsername, register, decodeClaims } from '../flows.js'

const DAY_MS = 86_400_000
const INVALID_REFRESH_BODY = JSON.stringify(errorBody(401, ErrorCatalogue.invalidRefreshToken.message))

interface Tokens { access_token: string, refresh_token: string, refresh_expires_in: number, session_id: string, expires_in: number, token_type: string }
interface SessionRow { id: string, created_at: string, last_used_at: string, expires_at: string, ip: string | null, user_agent: string | null, amr: string[], current: boolean }

// Everything the app logs, at the most talkative level, for the leak checks.
let logged = ''
const logStream = new Writable({ write (chunk, _enc, done) { logged += String(chunk); done() } })
const clock = new TestClock()
const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), LOG_LEVEL: 'trace' }), { now: clock.now, logStream })

const claimsOf = (token: string) => decodeClaims(token) as { sub: string, sid?: string, jti?: string, auth_time?: number, amr: string[], exp: number }
const me = async (token: string) => (await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode
const refresh = async (refreshToken: string) => await app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: refreshToken } })
const sessionsOf = async (token: string) => (await app.inject({ method: 'GET', url: '/sessions', headers: bearer(token) })).json().sessions as SessionRow[]

/** A registered user with exactly one session. */
async function loggedIn () {
  const user = await register(app, randomUsername(), DEFAULT_PASSWORD)
  const res = await login(app, { username: user.username, password: user.password })
  return { ...user, ...res.json() as Tokens }
}

t.test('a login opens a session: refresh token, its lifetime, the session id; the access token carries sid, jti, auth_time', async (t) => {
  const user = await plainUser(app)
  const before = Math.floor(clock.now() / 1000)
  const res = await login(app, { username: user.username, password: user.password })
  t.equal(res.statusCode, 200)
  const body = res.json() as Tokens
  t.match(body.refresh_token, /^twofold_rt_[0-9A-Za-z]{49}$/, 'prefixed, opaque, with a checksum')
  t.equal(body.refresh_expires_in, 7 * 86400, 'the idle lifetime (default 7 days)')
  t.match(body.session_id, /^[0-9a-f-]{36}$/)
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, 900, 'the access token is as before')
  const claims = claimsOf(body.access_token)
  t.equal(claims.sid, body.session_id)
  t.match(claims.jti, /^[0-9a-f-]{36}$/)
  t.ok(claims.auth_time !== undefined && claims.auth_time >= before && claims.auth_time <= before + 1, 'auth_time is the login')
  const other = (await login(app, { username: user.username, password: user.password })).json() as Tokens
  t.not(claimsOf(other.access_token).jti, claims.jti, 'a jti per token')
  t.not(other.session_id, body.session_id, 'a session per login')
  const row = await app.prisma.session.findUniqueOrThrow({ where: { id: body.session_id } })
  t.same(row.amr, ['pwd'])
  t.equal(row.ip, '127.0.0.1')
  t.equal(row.userAgent, 'lightMyRequest')
})

t.test('refresh rotates: a new access token and a new refresh token, with the login\'s amr and auth_time', async (t) => {
  const user = await createTfaUser(app, clock)
  const first = (await login(app, { username: user.username, password: user.password, totp: user.code() })).json() as Tokens
  clock.advance(DAY_MS)
  const res = await refresh(first.refresh_token)
  t.equal(res.statusCode, 200)
  const next = res.json() as Tokens
  // A refresh is no login: it hands out no new device cookie.
  t.same(Object.keys(next).sort(), Object.keys(first).filter(k => k !== 'device_cookie').sort(), 'the same shape as a login, without its device cookie')
  t.not(next.refresh_token, first.refresh_token, 'a new refresh token')
  t.not(next.access_token, first.access_token, 'a new access token')
  t.equal(next.session_id, first.session_id, 'the same session')
  const before = claimsOf(first.access_token)
  const after = claimsOf(next.access_token)
  t.same(after.amr, ['pwd', 'otp', 'mfa'], 'amr kept: refreshing is not re-authenticating')
  t.equal(after.auth_time, before.auth_time, 'auth_time kept')
  t.equal(after.sid, before.sid)
  t.equal(await me(next.access_token), 200)
  const last = await refresh(next.refresh_token)
  t.equal(last.statusCode, 200, 'the successor works')
})

t.test('reuse of a rotated refresh token (past the grace) ends the whole session', async (t) => {
  const user = await loggedIn()
  const next = (await refresh(user.refresh_token)).json() as Tokens
  clock.advance(11_000)
  const reused = await refresh(user.refresh_token)
  t.equal(reused.statusCode, 401)
  t.equal(reused.body, INVALID_REFRESH_BODY, 'the same 401 as any bad token')
  t.equal((await refresh(next.refresh_token)).body, INVALID_REFRESH_BODY, 'the thief\'s or the owner\'s newest token: both dead')
  t.equal(await me(next.access_token), 401, 'the session\'s access tokens are refused at once')
  t.equal(await me(user.access_token), 401)
  const row = await app.prisma.session.findUniqueOrThrow({ where: { id: user.session_id } })
  t.equal(row.revokedReason, 'refresh_reused')
  await app.audit.flush()
  const events = await app.prisma.securityEvent.findMany({ where: { userId: user.id, type: 'session.refresh_reused' } })
  t.equal(events.length, 1, 'audited')
  t.same(events[0]?.detail, { session_id: user.session_id })
  const other = await loggedIn()
  t.equal(await me(other.access_token), 200, 'other users are untouched')
})

t.test('two tabs refreshing the same token at once both stay logged in', async (t) => {
  const user = await loggedIn()
  const [a, b] = await Promise.all([refresh(user.refresh_token), refresh(user.refresh_token)])
  t.equal(a?.statusCode, 200)
  t.equal(b?.statusCode, 200)
  const ta = a!.json() as Tokens
  const tb = b!.json() as Tokens
  t.not(ta.refresh_token, tb.refresh_token, 'each tab its own successor')
  t.equal((await refresh(ta.refresh_token)).statusCode, 200, 'tab A goes on')
  t.equal((await refresh(tb.refresh_token)).statusCode, 200, 'tab B goes on')
  t.equal((await app.prisma.session.findUniqueOrThrow({ where: { id: user.session_id } })).revokedAt, null, 'the session lives')
})

t.test('idle and absolute lifetimes', async (t) => {
  const idle = await loggedIn()
  clock.advance(7 * DAY_MS + 1000)
  t.equal((await refresh(idle.refresh_token)).body, INVALID_REFRESH_BODY, 'unused for 7 days: ended')

  const busy = await loggedIn()
  let token = busy.refresh_token
  let refreshedAt = 0
  for (let day = 6; day < 30; day += 6) {
    clock.advance(6 * DAY_MS)
    refreshedAt = day
    const res = await refresh(token)
    t.equal(res.statusCode, 200, `day ${day}: refreshed`)
    const body = res.json() as Tokens
    token = body.refresh_token
    t.ok(body.refresh_expires_in <= 7 * 86400 && body.refresh_expires_in <= (30 - day) * 86400, `day ${day}: never past the absolute end (${body.refresh_expires_in} s)`)
  }
  t.equal(refreshedAt, 24)
  clock.advance(6 * DAY_MS + 1000)
  t.equal((await refresh(token)).body, INVALID_REFRESH_BODY, 'day 30: the absolute lifetime is over, however often it was refreshed')
})

t.test('unknown, malformed, and revoked refresh tokens: one 401', async (t) => {
  const user = await loggedIn()
  const lookalike = user.refresh_token.slice(0, -1) + (user.refresh_token.endsWith('A') ? 'B' : 'A')
  for (const [label, token] of [['malformed', 'nope'], ['bad checksum', lookalike], ['an API key', 'twofold_ak_' + user.refresh_token.slice(11)]] as const) {
    const res = await refresh(token)
    t.equal(res.statusCode, 401, label)
    t.equal(res.body, INVALID_REFRESH_BODY, label)
  }
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(user.access_token) })).statusCode, 204)
  t.equal((await refresh(user.refresh_token)).body, INVALID_REFRESH_BODY, 'revoked')
  t.equal((await app.inject({ method: 'POST', url: '/token/refresh', payload: {} })).statusCode, 400, 'no token: 400')
})

t.test('logout ends the session: its access and refresh tokens stop at once', async (t) => {
  const user = await loggedIn()
  const other = (await login(app, { username: user.username, password: user.password })).json() as Tokens
  t.equal(await me(user.access_token), 200)
  const res = await app.inject({ method: 'POST', url: '/logout', headers: bearer(user.access_token) })
  t.equal(res.statusCode, 204)
  t.equal(await me(user.access_token), 401, 'the access token is refused')
  t.equal((await refresh(user.refresh_token)).statusCode, 401, 'the refresh token too')
  t.equal(await me(other.access_token), 200, 'the user\'s other session goes on')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(user.access_token) })).statusCode, 401, 'logging out twice: the token is dead')
})

t.test('GET /sessions: the live ones, newest first, the current marked; DELETE one; DELETE all others', async (t) => {
  const user = await plainUser(app)
  const open = async (ua: string) => (await app.inject({ method: 'POST', url: '/login', headers: { 'user-agent': ua }, payload: { username: user.username, password: user.password } })).json() as Tokens
  const laptop = await open('Laptop')
  clock.advance(1000)
  const phone = await open('Phone')
  clock.advance(1000)
  const tablet = await open('Tablet')
  const list = await sessionsOf(phone.access_token)
  const ours = list.filter(s => [laptop, phone, tablet].some(x => x.session_id === s.id))
  t.same(ours.map(s => s.user_agent), ['Tablet', 'Phone', 'Laptop'], 'newest first')
  t.same(ours.map(s => s.current), [false, true, false], 'the caller\'s is current')
  const row = ours[1]!
  t.same(Object.keys(row).sort(), ['amr', 'created_at', 'current', 'expires_at', 'id', 'ip', 'last_used_at', 'user_agent'])
  t.same(row.amr, ['pwd'])
  t.equal(row.ip, '127.0.0.1')
  t.equal(new Date(row.expires_at).getTime() - new Date(row.last_used_at).getTime(), 7 * DAY_MS, 'ends 7 days after its last use')

  // Another user's session, and one that doesn't exist, get the same 404.
  const stranger = await loggedIn()
  for (const id of [stranger.session_id, '00000000-0000-4000-8000-000000000000']) {
    const res = await app.inject({ method: 'DELETE', url: `/sessions/${id}`, headers: bearer(phone.access_token) })
    t.equal(res.statusCode, 404)
    t.equal(res.json().error.message, ErrorCatalogue.sessionNotFound.message)
  }
  t.equal(await me(stranger.access_token), 200, 'the stranger\'s session is untouched')

  t.equal((await app.inject({ method: 'DELETE', url: `/sessions/${laptop.session_id}`, headers: bearer(phone.access_token) })).statusCode, 204, 'the lost laptop')
  t.equal(await me(laptop.access_token), 401)
  t.notOk((await sessionsOf(phone.access_token)).some(s => s.id === laptop.session_id), 'no longer listed')

  t.equal((await app.inject({ method: 'DELETE', url: '/sessions', headers: bearer(phone.access_token) })).statusCode, 204, 'sign out everywhere else')
  t.equal(await me(tablet.access_token), 401, 'the others end')
  t.equal((await refresh(tablet.refresh_token)).statusCode, 401)
  t.equal(await me(phone.access_token), 200, 'the current one stays')
  t.same((await sessionsOf(phone.access_token)).map(s => s.id), [phone.session_id])
  t.equal((await refresh(phone.refresh_token)).statusCode, 200, 'and can still refresh')
})

t.test('security events end the other sessions; an admin reset ends all', async (t) => {
  const user = await createTfaUser(app, clock)
  const open = async () => (await login(app, { username: user.username, password: user.password, totp: user.code() })).json() as Tokens
  clock.advance(30_000)
  const a = await open()
  clock.advance(30_000)
  const b = await open()
  clock.advance(30_000)

  // A password change: whoever else knew the old password is out; the changer stays.
  const changed = await app.inject({ method: 'POST', url: '/password', headers: bearer(a.access_token), payload: { current_password: user.password, new_password: 'a brand new password', totp: user.code() } })
  t.equal(changed.statusCode, 204)
  t.equal(await me(b.access_token), 401, 'password change: the other session ends')
  t.equal(await me(a.access_token), 200, 'the one that changed it stays')
  clock.advance(30_000)

  // Disabling TFA: the same.
  const c = (await login(app, { username: user.username, password: 'a brand new password', totp: user.code() })).json() as Tokens
  clock.advance(30_000)
  t.equal((await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(a.access_token), payload: { totp: user.code() } })).statusCode, 200)
  t.equal(await me(c.access_token), 401, 'TFA disabled: the other session ends')
  t.equal(await me(a.access_token), 200)

  // Enabling it: sessions that never passed the factor end.
  clock.advance(1)
  const d = (await login(app, { username: user.username, password: 'a brand new password' })).json() as Tokens
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(a.access_token) })
  const { secret } = enable.json() as { secret: string }
  const { generateTotpCode } = await import('../../src/auth/totp.js')
  t.equal((await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(a.access_token), payload: { totp: generateTotpCode(secret, clock.now()) } })).statusCode, 200)
  t.equal(await me(d.access_token), 401, 'TFA enabled: the other session ends')
  t.equal(await me(a.access_token), 200)

  await app.audit.flush()
  const ended = await app.prisma.securityEvent.findMany({ where: { userId: user.id, type: 'session.ended' }, orderBy: { createdAt: 'asc' } })
  t.same(ended.map(e => (e.detail as { reason: string }).reason), ['password_changed', 'tfa_disabled', 'tfa_enabled'], 'each audited with its reason')
})

t.test('a revoked API key: the tokens exchanged for it stop at once', async (t) => {
  const user = await loggedIn()
  const created = await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(user.access_token), payload: { name: 'ci' } })
  const { id, key } = created.json() as { id: string, key: string }
  const exchanged = await app.inject({ method: 'POST', url: '/token', headers: { authorization: `ApiKey ${key}` } })
  const keyToken = (exchanged.json() as Tokens).access_token
  t.notOk('refresh_token' in exchanged.json(), 'no refresh token for a key')
  t.equal(await me(keyToken), 200)
  t.equal((await app.inject({ method: 'GET', url: '/sessions', headers: bearer(keyToken) })).statusCode, 403, 'a key\'s token may not list sessions')
  t.equal((await app.inject({ method: 'DELETE', url: '/sessions', headers: bearer(keyToken) })).statusCode, 403, 'nor end them')
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: bearer(keyToken) })
  t.equal(logout.statusCode, 400, 'it has no session to log out of')
  t.equal(logout.json().error.message, ErrorCatalogue.noSession.message)
  t.equal((await app.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: bearer(user.access_token) })).statusCode, 204)
  t.equal(await me(keyToken), 401, 'refused at once, not in 15 minutes')
  t.equal(await me(user.access_token), 200, 'the owner\'s session is untouched')
})

t.test('an enrolment-only login gets a session but no refresh token', async (t) => {
  const strict = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED: 'true' }), { now: clock.now })
  const username = randomUsername()
  await register(strict, username, DEFAULT_PASSWORD)
  const res = await login(strict, { username, password: DEFAULT_PASSWORD })
  t.equal(res.statusCode, 200)
  const body = res.json() as Tokens & { scope: string }
  t.equal(body.scope, 'tfa:enroll')
  t.equal(body.refresh_token, undefined, 'no refresh token')
  t.equal(body.refresh_expires_in, undefined)
  t.match(body.session_id, /^[0-9a-f-]{36}$/, 'a session, to be listed and ended')
  t.equal(claimsOf(body.access_token).sid, body.session_id)
  t.equal(await strict.prisma.sessionRefreshToken.count({ where: { sessionId: body.session_id } }), 0)
  t.equal((await strict.inject({ method: 'POST', url: '/logout', headers: bearer(body.access_token) })).statusCode, 204, 'it can log out')
  t.equal((await strict.inject({ method: 'GET', url: '/me', headers: bearer(body.access_token) })).statusCode, 401)
})

t.test('admin: a user\'s sessions, and ending them all', async (t) => {
  const adminName = randomUsername()
  await register(app, adminName, DEFAULT_PASSWORD)
  await app.prisma.user.update({ where: { username: adminName }, data: { role: 'admin' } })
  const admin = (await login(app, { username: adminName, password: DEFAULT_PASSWORD })).json() as Tokens
  const user = await loggedIn()
  const listed = await app.inject({ method: 'GET', url: `/admin/users/${user.id}/sessions`, headers: bearer(admin.access_token) })
  t.equal(listed.statusCode, 200)
  t.same((listed.json().sessions as SessionRow[]).map(s => s.id), [user.session_id])
  t.equal((await app.inject({ method: 'GET', url: '/admin/users/00000000-0000-4000-8000-000000000000/sessions', headers: bearer(admin.access_token) })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: `/admin/users/${user.id}/sessions`, headers: bearer(user.access_token) })).statusCode, 403, 'not for users')
  const ended = await app.inject({ method: 'DELETE', url: `/admin/users/${user.id}/sessions`, headers: bearer(admin.access_token) })
  t.equal(ended.statusCode, 204)
  t.equal(await me(user.access_token), 401, 'the user\'s tokens are refused')
  t.equal((await refresh(user.refresh_token)).statusCode, 401)
  t.equal(await me(admin.access_token), 200, 'the admin\'s own session is untouched')
  await app.audit.flush()
  const event = await app.prisma.securityEvent.findFirst({ where: { userId: user.id, type: 'session.ended' } })
  t.match(event?.detail, { reason: 'admin', count: 1, by: claimsOf(admin.access_token).sub })
})

t.test('a refresh token never reaches the log, the audit trail or the database in plain text', async (t) => {
  const user = await loggedIn()
  const next = (await refresh(user.refresh_token)).json() as Tokens
  clock.advance(11_000)
  await refresh(user.refresh_token) // reuse: audited
  await app.audit.flush()
  const tokens = [user.refresh_token, next.refresh_token]
  const bodies = tokens.map(tok => tok.slice('twofold_rt_'.length))
  const tables = JSON.stringify(await app.prisma.$queryRawUnsafe('SELECT s.*, r.* FROM sessions s JOIN session_refresh_tokens r ON r.session_id = s.id')) +
    JSON.stringify(await app.prisma.$queryRawUnsafe('SELECT type, detail::text AS detail FROM security_events'))
  t.ok(logged.length > 0, 'the log was captured')
  for (const [i, needle] of [...tokens, ...bodies].entries()) {
    t.notOk(logged.includes(needle), `not in the log (${i})`)
    t.notOk(tables.includes(needle), `not in the database (${i})`)
  }
})

t.test('the embedded mode (no Redis): sessions end at once in the one process', async (t) => {
  const embedded = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), REDIS_URL: undefined, REDIS_CLUSTER_NODES: undefined }), { now: clock.now })
  t.equal(embedded.store.kind, 'memory')
  t.ok(embedded.revocations.healthy, 'nothing to lose: always trusted')
  const user = await register(embedded, randomUsername(), DEFAULT_PASSWORD)
  const first = (await login(embedded, { username: user.username, password: user.password })).json() as Tokens
  const next = await embedded.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: first.refresh_token } })
  t.equal(next.statusCode, 200, 'refresh works')
  const { access_token: token } = next.json() as Tokens
  t.equal((await embedded.inject({ method: 'POST', url: '/logout', headers: bearer(token) })).statusCode, 204)
  t.equal((await embedded.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode, 401, 'refused at once')
  t.equal((await embedded.inject({ method: 'GET', url: '/me', headers: bearer(first.access_token) })).statusCode, 401, 'every token of the session')
})

t.test('refreshes are rate limited per client address, like the other credential routes', async (t) => {
  const limited = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), RATE_LIMIT_LOGIN_MAX: '3' }), { now: clock.now })
  const statuses = []
  for (let i = 0; i < 5; i++) {
    const res = await limited.inject({ method: 'POST', url: '/token/refresh', remoteAddress: '203.0.113.9', payload: { refresh_token: `twofold_rt_guess${i}` } })
    statuses.push(res.statusCode)
  }
  t.same(statuses, [401, 401, 401, 429, 429], 'three guesses, then 429 before any lookup')
  const other = await limited.inject({ method: 'POST', url: '/token/refresh', remoteAddress: '203.0.113.10', payload: { refresh_token: 'twofold_rt_guess' } })
  t.equal(other.statusCode, 401, 'another address is not held back')
})
