import t from 'tap'
import { buildTestApp, createTestDatabase, createTestRedis, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, DEFAULT_PASSWORD, login, plainUser } from '../flows.js'

// Every limit's counter in Redis carries a deliberate name: `<prefix>rate-limit:<limit>:<what is
// counted>`, never parts of a route the limiter does not have (`undefinedundefined-…`).
const config = testConfig({ DATABASE_URL: await createTestDatabase(t) })
const clock = new TestClock()
const app = await buildTestApp(t, config, { now: clock.now })
const redis = createTestRedis()
t.teardown(() => { redis.disconnect() })

t.test('every rate-limit key is <prefix>rate-limit:<limit name>:<key>', async (t) => {
  const user = await createTfaUser(app, clock)
  const other = await plainUser(app)
  await login(app, { username: user.username, password: 'wrong password' })
  const { device_cookie: deviceCookie } = (await login(app, { username: other.username, password: DEFAULT_PASSWORD })).json() as { device_cookie: string }
  await login(app, { username: other.username, password: 'wrong password', device_cookie: deviceCookie })
  await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(user.token), payload: { totp: '000000' } })
  await app.inject({ method: 'POST', url: '/password', headers: bearer(other.token), payload: { current_password: 'nope nope', new_password: 'another long one' } })
  await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(other.token), payload: { name: 'ci' } })
  await app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: 'x'.repeat(43) } })

  const prefix = `${config.redisKeyPrefix}rate-limit:`
  const keys = (await redis.keys(`${config.redisKeyPrefix}*`)).filter(k => k.includes('rate-limit'))
  const names = new Set<string>()
  for (const key of keys) {
    t.ok(key.startsWith(prefix), `${key} starts with the namespace`)
    t.notMatch(key, /undefined/, `${key} has no undefined part`)
    const match = /^([a-z-]+):(.+)$/.exec(key.slice(prefix.length))
    t.ok(match, `${key} is <name>:<key>`)
    if (match?.[1] !== undefined) names.add(match[1])
  }
  t.same([...names].sort(), ['api-keys-user', 'login-device', 'login-ip', 'login-user', 'password-ip', 'password-user', 'refresh-ip', 'register-ip', 'tfa-ip', 'tfa-user'], 'each limit under its own name')
  t.ok(keys.includes(`${prefix}login-user:${user.username}`), 'the username limit is keyed by the username itself')
  t.ok(keys.includes(`${prefix}tfa-user:${user.id}`), 'a per-user limit is keyed by the user id')
  t.ok(keys.includes(`${prefix}login-device:${deviceCookie.split('.')[1]}`), 'a known device\'s limit is keyed by its device id')
})

t.test('/login and /login/tfa count the address and the account in one round, not one after the other', async (t) => {
  // Each Redis round trip costs the machine about 1 ms per login (README "Performance"): the two
  // counts are sent before either answer arrives. A spy over the real command records the order.
  const client = app.redis as unknown as { rateLimit: (...args: unknown[]) => unknown }
  const real = client.rateLimit.bind(client)
  const events: string[] = []
  client.rateLimit = (key: unknown, ...rest: unknown[]) => {
    const name = /rate-limit:([a-z-]+):/.exec(String(key))?.[1] ?? String(key)
    events.push(`sent ${name}`)
    const callback = rest.pop() as (err: unknown, result: unknown) => void
    return real(key, ...rest, (err: unknown, result: unknown) => { events.push(`answered ${name}`); callback(err, result) })
  }
  t.teardown(() => { client.rateLimit = real })

  const user = await createTfaUser(app, clock)
  events.length = 0
  const first = await login(app, { username: user.username, password: user.password })
  t.equal(first.statusCode, 401)
  t.same(events.slice(0, 2).sort(), ['sent login-ip', 'sent login-user'], '/login: both sent before any answer')
  t.same(events.slice(2).sort(), ['answered login-ip', 'answered login-user'])

  events.length = 0
  const second = await app.inject({ method: 'POST', url: '/login/tfa', payload: { receipt: first.headers['x-tfa-receipt'], totp: user.code() } })
  t.equal(second.statusCode, 200, second.body)
  t.same(events.slice(0, 2).sort(), ['sent login-ip', 'sent login-tfa-user'], '/login/tfa: both sent before any answer')
  t.same(events.slice(2).sort(), ['answered login-ip', 'answered login-tfa-user'])
})
