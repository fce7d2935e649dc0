import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp, TestClock, createTestDatabase, testConfig } from '../helper.js'
import { bearer, createTfaUser, DEFAULT_PASSWORD, plainUser } from '../flows.js'

const OPT_IN = { 'x-twofold-session': 'cookie' }

function cookieOf (res: LightMyRequestResponse, name: string) {
  return res.cookies.find(c => c.name === name)
}

t.test('opted in: the refresh and device tokens live in HttpOnly, SameSite=Strict, path-scoped cookies', async (t) => {
  const clock = new TestClock()
  const app = await buildTestApp(t, undefined, { now: clock.now })
  const user = await createTfaUser(app, clock)

  const login = await app.inject({ method: 'POST', url: '/login', headers: OPT_IN, payload: { username: user.username, password: DEFAULT_PASSWORD, totp: user.code(), remember_device: true } })
  t.equal(login.statusCode, 200)
  const body = login.json() as Record<string, unknown>
  t.ok(body.access_token, 'the access token stays in the answer (the page keeps it in memory)')
  t.notOk('refresh_token' in body, 'no refresh token a script could read')
  t.notOk('device_token' in body, 'no device token a script could read')
  const refresh = cookieOf(login, 'twofold_rt')
  const device = cookieOf(login, 'twofold_td')
  t.match(refresh, { httpOnly: true, sameSite: 'Strict', path: '/token/refresh' })
  t.match(device, { httpOnly: true, sameSite: 'Strict', path: '/login' })
  t.ok(Number(refresh?.maxAge) > 0 && Number(device?.maxAge) > 0, 'both outlive the tab')

  // CSRF: without the header (what a cross-site form or a simple request would send) the cookie is ignored.
  const forged = await app.inject({ method: 'POST', url: '/token/refresh', cookies: { twofold_rt: refresh!.value }, payload: {} })
  t.equal(forged.statusCode, 400, 'the cookie alone refreshes nothing')

  const refreshed = await app.inject({ method: 'POST', url: '/token/refresh', headers: OPT_IN, cookies: { twofold_rt: refresh!.value }, payload: {} })
  t.equal(refreshed.statusCode, 200, 'a reload gets a new access token from the cookie')
  t.notOk('refresh_token' in (refreshed.json() as object))
  const next = cookieOf(refreshed, 'twofold_rt')
  t.ok(next && next.value !== refresh!.value, 'rotated in the cookie')
  t.ok((await app.inject({ method: 'GET', url: '/me', headers: bearer((refreshed.json() as { access_token: string }).access_token) })).statusCode === 200)

  // The device cookie stands in for the code, and comes back rotated.
  const remembered = await app.inject({ method: 'POST', url: '/login', headers: OPT_IN, cookies: { twofold_td: device!.value }, payload: { username: user.username, password: DEFAULT_PASSWORD } })
  t.equal(remembered.statusCode, 200, 'no code on a remembered device')
  const rotated = cookieOf(remembered, 'twofold_td')
  t.ok(rotated && rotated.value !== device!.value)
  const noHeader = await app.inject({ method: 'POST', url: '/login', cookies: { twofold_td: rotated!.value }, payload: { username: user.username, password: DEFAULT_PASSWORD } })
  t.equal(noHeader.statusCode, 401, 'the device cookie is ignored without the header too')

  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { ...OPT_IN, ...bearer((refreshed.json() as { access_token: string }).access_token) } })
  t.equal(logout.statusCode, 204)
  t.match(cookieOf(logout, 'twofold_rt'), { value: '', path: '/token/refresh' }, 'log out clears the refresh cookie')
  const after = await app.inject({ method: 'POST', url: '/token/refresh', headers: OPT_IN, cookies: { twofold_rt: next!.value }, payload: {} })
  t.equal(after.statusCode, 401, 'the ended session does not refresh')
  t.match(cookieOf(after, 'twofold_rt'), { value: '' }, 'a dead refresh cookie is cleared')
})

t.test('not opted in: API clients keep the JSON fields and get no cookie', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t) }))
  const { username } = await plainUser(app)
  const login = await app.inject({ method: 'POST', url: '/login', payload: { username, password: DEFAULT_PASSWORD } })
  t.equal(login.statusCode, 200)
  t.type((login.json() as { refresh_token: unknown }).refresh_token, 'string')
  t.equal(login.headers['set-cookie'], undefined)
  const refreshed = await app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: (login.json() as { refresh_token: string }).refresh_token } })
  t.equal(refreshed.statusCode, 200)
  t.type((refreshed.json() as { refresh_token: unknown }).refresh_token, 'string')
})
