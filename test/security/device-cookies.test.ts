import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { createDeviceCookies } from '../../src/auth/device-cookies.js'
import type { App } from '../../src/app.js'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { countStatuses, createTfaUser, DEFAULT_PASSWORD, INVALID_CREDENTIALS_BODY, loginWithReceipt, randomUsername, receiptOf, TFA_REQUIRED_BODY } from '../flows.js'

// Issue 17, item 1: a flood of wrong passwords on a username must not lock its owner out. A client
// that logged in as the user before carries a signed device cookie and is limited per device,
// not in the username's shared bucket, which everyone else still shares.
const LOGIN_MAX = 5
const DEVICE_MAX = 10
const WINDOW_MS = 60_000
const config = testConfig({
  DATABASE_URL: await createTestDatabase(t),
  TRUST_PROXY: 'true',
  RATE_LIMIT_LOGIN_MAX: String(LOGIN_MAX),
  RATE_LIMIT_LOGIN_WINDOW: String(WINDOW_MS),
  RATE_LIMIT_LOGIN_DEVICE_MAX: String(DEVICE_MAX)
})
const clock = new TestClock()
const app = await buildTestApp(t, config, { now: clock.now })

// Each request from its own address, as a botnet's would be: the per-IP limit never trips.
let lastOctets = 0
const freshIp = () => { lastOctets++; return `10.${(lastOctets >> 16) & 255}.${(lastOctets >> 8) & 255}.${lastOctets & 255}` }
const loginFrom = async (body: Record<string, string>, headers: Record<string, string> = {}) =>
  await app.inject({ method: 'POST', url: '/login', headers: { 'x-forwarded-for': freshIp(), ...headers }, payload: body })
const newUser = async () => {
  const res = await app.inject({ method: 'POST', url: '/users', headers: { 'x-forwarded-for': freshIp() }, payload: { username: randomUsername(), password: DEFAULT_PASSWORD } })
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string, username: string }
}
// The reference UI's mode (README "Reference UI"): tokens in HttpOnly cookies, not in the JSON.
const BROWSER = { 'x-twofold-session': 'cookie' }
const setCookieOf = (res: LightMyRequestResponse, name: string): string | undefined =>
  [res.headers['set-cookie'] ?? []].flat().find(c => c.startsWith(`${name}=`))
const cookieOf = (res: LightMyRequestResponse): string => {
  const { device_cookie: cookie } = res.json() as { device_cookie?: string }
  if (cookie === undefined) throw new Error(`no device_cookie: ${res.statusCode} ${res.body}`)
  return cookie
}

/** Every password bcrypt is asked to check, as the real hasher sees it (the service holds this very object). */
function spyOnBcrypt (app: App): string[] {
  const seen: string[] = []
  const { verify, verifyAgainstDummy } = app.passwords
  app.passwords.verify = async (password, hash) => { seen.push(password); return await verify(password, hash) }
  app.passwords.verifyAgainstDummy = async (password) => { seen.push(password); return await verifyAgainstDummy(password) }
  return seen
}
const bcryptPasswords = spyOnBcrypt(app)

t.test('under a sustained flood on a username, the owner\'s known device logs in every time; no one else does', async (t) => {
  const owner = await newUser()
  const other = await newUser()
  const first = await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD }, BROWSER)
  t.equal(first.statusCode, 200)
  t.notOk('device_cookie' in (first.json() as object), 'a browser session gets it as a cookie, not in the JSON')
  const browserSetCookie = setCookieOf(first, 'twofold_device') ?? ''
  t.match(browserSetCookie, /^twofold_device=twofold_dc_[^;]+; Max-Age=7776000; Path=\/login; HttpOnly; SameSite=Strict$/, 'an HttpOnly, SameSite cookie for /login')
  const browserCookie = browserSetCookie.slice('twofold_device='.length, browserSetCookie.indexOf(';'))
  t.ok(app.deviceCookies.verify(browserCookie, owner.username), 'the cookie is the device cookie')
  const othersCookie = cookieOf(await loginFrom({ username: other.username, password: DEFAULT_PASSWORD }))
  const tampered = browserCookie.slice(0, -1) + (browserCookie.endsWith('A') ? 'B' : 'A')
  const expired = createDeviceCookies({ keySource: config.tfa.encryptionKey!.key, now: () => clock.now() - 2 * 86_400_000, days: 1 }).issue(owner.id, owner.username)
  const forgedForOwner = createDeviceCookies({ keySource: Buffer.alloc(32, 7), now: clock.now, days: 90 }).issue(owner.id, owner.username)

  const started = Date.now()
  const floodStatuses: LightMyRequestResponse[] = []
  const outsiders: Record<string, number[]> = { noCookie: [], othersCookie: [], tampered: [], expired: [], forged: [] }
  let apiCookie = browserCookie
  for (let round = 0; round < 8; round++) {
    floodStatuses.push(...await Promise.all(Array.from({ length: 15 }, (_, i) =>
      loginFrom({ username: owner.username, password: `wrong password ${round}-${i}` }))))

    const api = await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD, device_cookie: apiCookie })
    t.equal(api.statusCode, 200, `round ${round}: the owner's app (device_cookie) logs in`)
    apiCookie = cookieOf(api)
    // Typed in capitals: usernames are case-insensitive, and so is the cookie's binding.
    const browser = await loginFrom({ username: owner.username.toUpperCase(), password: DEFAULT_PASSWORD }, { ...BROWSER, cookie: `theme=dark; twofold_device=${browserCookie}` })
    t.equal(browser.statusCode, 200, `round ${round}: the owner's browser (Cookie header) logs in`)

    outsiders.noCookie!.push((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD })).statusCode)
    outsiders.othersCookie!.push((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD, device_cookie: othersCookie })).statusCode)
    outsiders.tampered!.push((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD, device_cookie: tampered })).statusCode)
    outsiders.expired!.push((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD }, { ...BROWSER, cookie: `twofold_device=${expired}` })).statusCode)
    outsiders.forged!.push((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD, device_cookie: forgedForOwner })).statusCode)
  }
  const windows = 1 + Math.ceil((Date.now() - started) / WINDOW_MS)

  for (const [who, statuses] of Object.entries(outsiders)) t.same(statuses, statuses.map(() => 429), `${who}: shares the username's bucket, refused under the flood`)
  const flood = countStatuses(floodStatuses)
  t.ok((flood[401] ?? 0) <= LOGIN_MAX * windows, `the flood had at most the limit checked (${JSON.stringify(flood)})`)
  t.equal((flood[401] ?? 0) + (flood[429] ?? 0), floodStatuses.length, 'every flood request is a 401 or a 429')
  const floodHashes = bcryptPasswords.filter(p => p.startsWith('wrong password')).length
  t.ok(floodHashes <= LOGIN_MAX * windows, `the flood reached bcrypt ${floodHashes} times, at most the limit (${LOGIN_MAX} a window)`)
  t.ok(floodHashes >= 1, 'the spy does see the flood\'s verifications')

  const wrong = await loginFrom({ username: owner.username, password: 'not the password', device_cookie: apiCookie })
  t.equal(wrong.statusCode, 401, 'a known device still needs the right password')
  t.equal(wrong.body, INVALID_CREDENTIALS_BODY)
})

t.test('a known device has a small bucket of its own, and is not counted in the username\'s', async (t) => {
  const owner = await newUser()
  const cookie = cookieOf(await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD }))
  const guesses: number[] = []
  for (let i = 0; i < DEVICE_MAX + 3; i++) guesses.push((await loginFrom({ username: owner.username, password: `guess ${i} wrong`, device_cookie: cookie })).statusCode)
  t.same(guesses, [...Array<number>(DEVICE_MAX).fill(401), 429, 429, 429], 'its own limit, per device')
  t.equal(bcryptPasswords.filter(p => p.startsWith('guess ')).length, DEVICE_MAX, 'past its limit, a device reaches bcrypt no more')
  const res = await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD })
  t.equal(res.statusCode, 200, `${DEVICE_MAX} guesses from a known device left the shared bucket (${LOGIN_MAX}) untouched`)

  // A password change leaves device cookies valid: they prove a past login, which is all the limit needs.
  const { access_token: token } = res.json() as { access_token: string }
  const change = await app.inject({ method: 'POST', url: '/password', headers: { authorization: `Bearer ${token}` }, payload: { current_password: DEFAULT_PASSWORD, new_password: 'a brand new password' } })
  t.equal(change.statusCode, 204)
  const another = cookieOf(res)
  for (let i = 0; i < LOGIN_MAX + 1; i++) await loginFrom({ username: owner.username, password: `after change ${i}` })
  t.equal((await loginFrom({ username: owner.username, password: 'a brand new password' })).statusCode, 429, 'the username bucket is full')
  t.equal((await loginFrom({ username: owner.username, password: 'a brand new password', device_cookie: another })).statusCode, 200, 'a cookie from before the change still exempts')
})

t.test('a device cookie skips neither the password nor the code; the second step gives one too', async (t) => {
  const user = await createTfaUser(app, clock)
  const first = await loginFrom({ username: user.username, password: user.password })
  t.equal(first.statusCode, 401)
  const done = await loginWithReceipt(app, { receipt: receiptOf(first), totp: user.code() })
  t.equal(done.statusCode, 200)
  const cookie = cookieOf(done)
  const second = await loginFrom({ username: user.username, password: user.password }, BROWSER)
  clock.advance(30_000)
  const browserDone = await app.inject({ method: 'POST', url: '/login/tfa', headers: BROWSER, payload: { receipt: receiptOf(second), totp: user.code() } })
  t.match(setCookieOf(browserDone, 'twofold_device'), /^twofold_device=twofold_dc_/, 'POST /login/tfa sets it for browsers too')
  const again = await loginFrom({ username: user.username, password: user.password, device_cookie: cookie })
  t.equal(again.statusCode, 401, 'the right password and a device cookie, without the code')
  t.equal(again.body, TFA_REQUIRED_BODY, 'still asks for the code')
  clock.advance(30_000)
  t.equal((await loginFrom({ username: user.username, password: user.password, totp: user.code(), device_cookie: cookie })).statusCode, 200, 'with the code it logs in')
})

t.test('a malformed device_cookie is a 400, a malformed Cookie header is ignored', async (t) => {
  const owner = await newUser()
  t.equal((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD, device_cookie: 'twofold_dc_<script>' })).statusCode, 400)
  t.equal((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD }, { cookie: 'twofold_device=%00;;=;twofold_device' })).statusCode, 200)
  t.equal((await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD }, { ...BROWSER, cookie: 'twofold_device=%00;;=;twofold_device' })).statusCode, 200, 'in a browser session too')
})

t.test('DEVICE_COOKIE_DAYS=0: none issued, none honoured', async (t) => {
  const off = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), DEVICE_COOKIE_DAYS: '0', RATE_LIMIT_LOGIN_MAX: '1' }))
  const username = randomUsername()
  t.equal((await off.inject({ method: 'POST', url: '/users', payload: { username, password: DEFAULT_PASSWORD } })).statusCode, 201)
  const res = await off.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.10', payload: { username, password: DEFAULT_PASSWORD } })
  t.equal(res.statusCode, 200)
  t.notOk('device_cookie' in (res.json() as object), 'no device_cookie in the answer')
  t.notOk(res.headers['set-cookie'], 'no cookie set')
  const { id } = (await off.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${(res.json() as { access_token: string }).access_token}` } })).json() as { id: string }
  const signed = createDeviceCookies({ keySource: off.config.tfa.encryptionKey!.key, now: Date.now, days: 90 }).issue(id, username)
  const again = await off.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.11', payload: { username, password: DEFAULT_PASSWORD, device_cookie: signed } })
  t.equal(again.statusCode, 429, 'even a validly signed cookie shares the username bucket')
})

t.test('over TLS (behind a trusted proxy) the browser cookie is Secure', async (t) => {
  const owner = await newUser()
  const res = await loginFrom({ username: owner.username, password: DEFAULT_PASSWORD }, { ...BROWSER, 'x-forwarded-proto': 'https' })
  t.equal(res.statusCode, 200)
  t.match(setCookieOf(res, 'twofold_device'), /; HttpOnly; Secure; SameSite=Strict$/)
})

t.test('only the spelling issued verifies: the spare bits of the last base64url character are not a second cookie', async (t) => {
  const cookies = createDeviceCookies({ keySource: Buffer.alloc(32, 3), now: clock.now, days: 90 })
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (let i = 0; i < 20; i++) {
    const cookie = cookies.issue('00000000-0000-4000-8000-000000000001', 'alice')
    t.ok(cookies.verify(cookie, 'alice'))
    // A 32-byte MAC is 43 characters: the last one's 2 low bits are spare, so the next one up decodes the same.
    const respelled = cookie.slice(0, -1) + B64URL[B64URL.indexOf(cookie.at(-1)!) + 1]!
    t.equal(cookies.verify(respelled, 'alice'), null)
  }
})
