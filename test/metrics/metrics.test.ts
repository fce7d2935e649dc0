// The metrics an operator scrapes: real flows through the app, then GET /metrics on the metrics
// listener (a real socket), parsed strictly, every counter checked against what happened.
import bcrypt from 'bcrypt'
import t from 'tap'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, DEFAULT_PASSWORD as PASSWORD, enrolSms, login, plainUser, randomUsername, wrongCode } from '../flows.js'
import { startSmsReceiver } from '../sms-receiver.js'
import { parseExposition, valueOf, type Exposition } from './prometheus-text.js'

const receiver = await startSmsReceiver(t)
const clock = new TestClock()
const app = await buildTestApp(t, testConfig({
  DATABASE_URL: await createTestDatabase(t),
  ...receiver.env,
  METRICS_PORT: '0',
  METRICS_HOST: '127.0.0.1',
  TFA_MAX_FAILURES: '3',
  RATE_LIMIT_LOGIN_MAX: '60',
  MAX_PENDING_HASHES: '2'
}), { now: clock.now })

async function scrape (): Promise<{ text: string, exposition: Exposition }> {
  const { port } = app.metrics!.address()
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  if (res.status !== 200) throw new Error(`scrape: ${res.status}`)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  return { text, exposition: parseExposition(text) }
}
const logins = (e: Exposition, result: string, secondFactor?: string) =>
  valueOf(e, 'twofold_login_attempts_total', { result, ...(secondFactor !== undefined ? { second_factor: secondFactor } : {}) })

const usernames: string[] = []

t.test('login outcomes by result and second factor; locks', async (t) => {
  const plain = await plainUser(app)
  usernames.push(plain.username)
  t.equal((await login(app, { username: plain.username, password: 'not the password' })).statusCode, 401)
  t.equal((await login(app, { username: randomUsername(), password: PASSWORD })).statusCode, 401, 'unknown user')
  t.equal((await login(app, { username: plain.username })).statusCode, 400, 'no password')

  const tfa = await createTfaUser(app, clock)
  usernames.push(tfa.username)
  t.equal((await login(app, { username: tfa.username, password: PASSWORD })).statusCode, 401, 'code required')
  t.equal((await login(app, { username: tfa.username, password: PASSWORD, totp: wrongCode(tfa.secret, clock.now()) })).statusCode, 401, 'wrong code')
  t.equal((await login(app, { username: tfa.username, password: PASSWORD + tfa.code() })).statusCode, 200, 'totp')
  t.equal((await login(app, { username: tfa.username, password: PASSWORD, recovery_code: tfa.recoveryCodes[0]! })).statusCode, 200, 'recovery code')
  // Three wrong codes in a row lock: two wrong_code, then the locking one.
  for (let i = 0; i < 2; i++) await login(app, { username: tfa.username, password: PASSWORD, totp: wrongCode(tfa.secret, clock.now()) })
  t.equal((await login(app, { username: tfa.username, password: PASSWORD, totp: wrongCode(tfa.secret, clock.now()) })).statusCode, 429, 'locks')
  t.equal((await login(app, { username: tfa.username, password: PASSWORD, totp: tfa.code() })).statusCode, 429, 'locked')

  const { exposition: e } = await scrape()
  // plainUser and createTfaUser log in once each (no second factor yet).
  t.equal(logins(e, 'success', 'none'), 2, 'success without a second factor')
  t.equal(logins(e, 'success', 'totp'), 1)
  t.equal(logins(e, 'success', 'recovery_code'), 1)
  t.equal(logins(e, 'wrong_password'), 2, 'wrong password, unknown user included')
  t.equal(logins(e, 'invalid_request'), 1)
  t.equal(logins(e, 'code_required', 'totp'), 1)
  t.equal(logins(e, 'wrong_code', 'totp'), 3, 'one, then two before the lock')
  t.equal(logins(e, 'locked'), 2, 'the locking attempt and the one after')
  t.equal(valueOf(e, 'twofold_tfa_locks_total'), 1)
})

t.test('SMS sent, throttled; refreshes and reuse; sessions ended; API-key exchanges', async (t) => {
  const sms = await enrolSms(app, clock, receiver)
  usernames.push(sms.username)
  t.equal((await login(app, { username: sms.username, password: PASSWORD })).statusCode, 401, 'sends a login code')
  t.equal((await login(app, { username: sms.username, password: PASSWORD })).statusCode, 401, 'within the minute: throttled')

  const user = await plainUser(app)
  usernames.push(user.username)
  const first = (await login(app, { username: user.username, password: PASSWORD })).json() as { refresh_token: string }
  const refreshed = await app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: first.refresh_token } })
  t.equal(refreshed.statusCode, 200)
  clock.advance(60_000) // past the sibling grace: a second use of the old token is a reuse
  t.equal((await app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: first.refresh_token } })).statusCode, 401, 'reuse')
  const key = (await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(user.token), payload: { name: 'ci' } })).json() as { key: string }
  t.equal((await app.inject({ method: 'POST', url: '/token', headers: { authorization: `ApiKey ${key.key}` } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/token', headers: { authorization: 'ApiKey twofold_ak_nope' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(user.token) })).statusCode, 204)

  const { exposition: e } = await scrape()
  t.equal(valueOf(e, 'twofold_sms_total', { result: 'sent', purpose: 'verify' }), 1, 'the enrolment code')
  t.equal(valueOf(e, 'twofold_sms_total', { result: 'sent', purpose: 'auth' }), 1, 'the login code')
  t.equal(valueOf(e, 'twofold_sms_total', { result: 'throttled', purpose: 'auth' }), 1)
  t.equal(logins(e, 'code_required', 'sms'), 2)
  t.equal(valueOf(e, 'twofold_token_refreshes_total', { result: 'success' }), 1)
  t.equal(valueOf(e, 'twofold_token_refreshes_total', { result: 'invalid' }), 1)
  t.equal(valueOf(e, 'twofold_refresh_token_reuse_total'), 1)
  t.ok(valueOf(e, 'twofold_sessions_ended_total', { reason: 'logout' }) >= 1, 'logout ended a session')
  t.equal(valueOf(e, 'twofold_api_key_exchanges_total', { result: 'success' }), 1)
  t.equal(valueOf(e, 'twofold_api_key_exchanges_total', { result: 'invalid' }), 1)
})

t.test('shed and rate limited logins; hash slots', async (t) => {
  // Both hash slots held by slow verifications (cost 12, a few hundred ms): logins meanwhile are shed.
  const slowHash = await bcrypt.hash('x', 12)
  const holding = [app.passwords.verify('x', slowHash), app.passwords.verify('x', slowHash)]
  const during = await scrape()
  t.equal(valueOf(during.exposition, 'twofold_password_hashes_in_flight'), 2, 'both slots in flight')
  const burst = await Promise.all(Array.from({ length: 3 }, async () => await login(app, { username: randomUsername(), password: PASSWORD })))
  await Promise.all(holding)
  const shed = burst.filter(r => r.statusCode === 503).length
  t.equal(shed, 3, 'every login while the slots were taken was shed')
  let limited = 0
  for (let i = 0; i < 80 && limited === 0; i++) {
    if ((await login(app, { username: 'limited-user', password: PASSWORD })).statusCode === 429) limited++
  }
  t.equal(limited, 1, 'the per-IP / per-username limit answered 429')

  const { exposition: e } = await scrape()
  t.equal(logins(e, 'shed'), shed)
  t.equal(valueOf(e, 'twofold_password_hashes_shed_total'), shed)
  t.equal(logins(e, 'rate_limited'), 1)
  t.equal(valueOf(e, 'twofold_password_hash_slots'), 2, 'MAX_PENDING_HASHES')
  t.equal(valueOf(e, 'twofold_password_hashes_in_flight'), 0, 'nothing in flight now')
  t.equal(valueOf(e, 'twofold_password_hashes_queued'), 0)
  t.ok(valueOf(e, 'twofold_password_hash_duration_seconds_count') > 10, 'hash durations observed')
})

t.test('the exposition: names, types, units, labels, default metrics, request histograms', async (t) => {
  const { text, exposition: e } = await scrape()
  for (const [name, type] of e.types) {
    if (!name.startsWith('twofold_')) continue
    if (type === 'counter') t.match(name, /_total$/, `${name}: a counter ends in _total`)
    if (type === 'histogram') t.match(name, /_seconds$/, `${name}: durations in seconds`)
    t.ok(e.help.get(name), `${name} has help`)
  }
  t.equal(e.types.get('twofold_http_request_duration_seconds'), 'histogram')
  const loginBuckets = e.samples.filter(s => s.name === 'twofold_http_request_duration_seconds_count' && s.labels.route === '/login')
  t.ok(loginBuckets.length > 0, 'per route: /login')
  t.ok(e.samples.some(s => s.name === 'twofold_http_request_duration_seconds_bucket' && s.labels.route === '/token/refresh' && s.labels.le === '+Inf'))
  t.ok(valueOf(e, 'twofold_http_request_duration_seconds_count', { route: '/login', method: 'POST', status_code: '200' }) > 0)
  t.notOk(e.samples.some(s => s.labels.route?.includes('twofold_ak_') === true || /[0-9a-f]{8}-[0-9a-f]{4}/.test(s.labels.route ?? '')), 'route patterns, never raw paths')
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    t.ok(e.types.has(name), `default metric ${name}`)
  }
  for (const username of usernames) t.notMatch(text, username, 'no username anywhere')
  const labelNames = new Set(e.samples.flatMap(s => Object.keys(s.labels)))
  for (const forbidden of ['user', 'user_id', 'username', 'ip', 'session_id']) t.notOk(labelNames.has(forbidden), `no ${forbidden} label`)
})

t.test('only on the metrics listener, never on the public port', async (t) => {
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404)
  const { port } = app.metrics!.address()
  t.not(port, 0)
  t.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404, 'the listener serves nothing else')
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 404)
})

t.test('off by default: no listener, nothing collected', async (t) => {
  const quiet = await buildTestApp(t)
  t.equal(quiet.metrics, undefined)
})
