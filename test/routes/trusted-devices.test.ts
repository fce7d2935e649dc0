import t from 'tap'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import {
  amrOf, bearer, createTfaUser, INVALID_CREDENTIALS_BODY, login, loginWithReceipt, plainUser, receiptOf, STEP_MS,
  TFA_REQUIRED_BODY, type TfaUser,
  decodeClaims
} from '../flows.js'
import type { App } from '../../src/app.js'
import { errorBody, ErrorCatalogue } from '../../src/errors.js'

// "Remember this device": a device token from a login with a code spares that device the code later.
const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl }), { now: clock.now })
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const ADMIN_MFA_REQUIRED_BODY = JSON.stringify(errorBody(403, ErrorCatalogue.adminMfaRequired.message))
const DAY = 86_400_000

const claimsOf = (res: { json: () => unknown }) => decodeClaims((res.json() as { access_token: string }).access_token)
const deviceTokenOf = (res: { json: () => unknown, body: string }) => {
  const token = (res.json() as { device_token?: string }).device_token
  if (token === undefined) throw new Error(`no device_token: ${res.body}`)
  return token
}

/** A login with the code and remember_device, from Firefox; the device token. */
async function remember (target: App, user: TfaUser): Promise<string> {
  const res = await target.inject({ method: 'POST', url: '/login', headers: { 'user-agent': FIREFOX }, payload: { username: user.username, password: user.password, totp: user.code(), remember_device: true } })
  clock.advance(STEP_MS)
  if (res.statusCode !== 200) throw new Error(`remember: ${res.statusCode} ${res.body}`)
  return deviceTokenOf(res)
}

const withDevice = async (user: { username: string, password: string }, deviceToken: string, target = app) =>
  await login(target, { username: user.username, password: user.password, device_token: deviceToken })

const devicesOf = async (token: string, target = app) => {
  const res = await target.inject({ method: 'GET', url: '/tfa/trusted-devices', headers: bearer(token) })
  if (res.statusCode !== 200) throw new Error(`list: ${res.statusCode} ${res.body}`)
  return (res.json() as { devices: Array<{ id: string, name: string, created_at: string, last_used_at: string, expires_at: string }> }).devices
}

t.test('a remembered device skips the code: amr pwd plus remembered_device, never mfa, and the token rotates', async (t) => {
  const user = await createTfaUser(app, clock)
  const first = await remember(app, user)
  t.match(first, /^twofold_td_[0-9A-Za-z]{49}$/)

  const res = await withDevice(user, first)
  t.equal(res.statusCode, 200, res.body)
  t.same(amrOf(app, res), ['pwd'], 'not otp, not mfa: no code was entered')
  t.equal(claimsOf(res).remembered_device, true, 'the token says the second factor was a remembered device')
  const second = deviceTokenOf(res)
  t.not(second, first, 'rotated')
  t.match(res.json(), { refresh_token: /^twofold_rt_/, session_id: String }, 'a normal session')
  t.equal((await withDevice(user, second)).statusCode, 200, 'the successor works')

  const refreshed = await app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: res.json().refresh_token } })
  t.equal(refreshed.statusCode, 200)
  t.same(amrOf(app, refreshed), ['pwd'])
  t.equal(claimsOf(refreshed).remembered_device, true, 'a refresh keeps what the login was')
  const coded = await login(app, { username: user.username, password: user.password, totp: user.code() })
  clock.advance(STEP_MS)
  t.equal(claimsOf(coded).remembered_device, undefined, 'a login with a code has no such claim')
})

t.test('the second step (POST /login/tfa) can remember the device too', async (t) => {
  const user = await createTfaUser(app, clock)
  const receipt = receiptOf(await login(app, { username: user.username, password: user.password }))
  const res = await loginWithReceipt(app, { receipt, totp: user.code(), remember_device: true })
  t.equal(res.statusCode, 200, res.body)
  t.equal((await withDevice(user, deviceTokenOf(res))).statusCode, 200)
})

t.test('no device token without a code, or when TRUSTED_DEVICE_DAYS is 0', async (t) => {
  const plain = await plainUser(app)
  const res = await login(app, { username: plain.username, password: plain.password, remember_device: true })
  t.equal(res.statusCode, 200)
  t.equal((res.json() as { device_token?: string }).device_token, undefined, 'a password-only login remembers nothing')

  const off = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, TRUSTED_DEVICE_DAYS: '0' }), { now: clock.now })
  const user = await createTfaUser(off, clock)
  const noDevice = await login(off, { username: user.username, password: user.password, totp: user.code(), remember_device: true })
  t.equal(noDevice.statusCode, 200)
  t.equal((noDevice.json() as { device_token?: string }).device_token, undefined, 'the feature is off')
})

t.test('the device token never stands in for the password, and is worthless for another user', async (t) => {
  const alice = await createTfaUser(app, clock)
  const bob = await createTfaUser(app, clock)
  const token = await remember(app, alice)
  const wrong = await withDevice({ username: alice.username, password: 'not the password' }, token)
  t.equal(wrong.body, INVALID_CREDENTIALS_BODY, 'wrong password: the plain 401')
  const asBob = await withDevice(bob, token)
  t.equal(asBob.body, TFA_REQUIRED_BODY, 'Bob with Alice\'s token: asked for his code')
  t.type(asBob.headers['x-tfa-receipt'], 'string')
  const still = await withDevice(alice, token)
  t.equal(still.statusCode, 200, 'neither rotated nor revoked Alice\'s device')
})

t.test('a rotated token presented again revokes the device, and is audited; a double submit is not reuse', async (t) => {
  const user = await createTfaUser(app, clock)
  const first = await remember(app, user)
  const next = deviceTokenOf(await withDevice(user, first))
  // At once (a double-submitted form): refused, the device stays.
  t.equal((await withDevice(user, first)).body, TFA_REQUIRED_BODY, 'the old token right after rotation: the code is asked')
  const next2 = deviceTokenOf(await withDevice(user, next))
  clock.advance(60_000)
  t.equal((await withDevice(user, next)).body, TFA_REQUIRED_BODY, 'a rotated token later: refused')
  t.equal((await withDevice(user, next2)).body, TFA_REQUIRED_BODY, 'and the device is revoked: its current token is dead too')
  await app.audit.flush()
  const events = await app.prisma.securityEvent.findMany({ where: { userId: user.id, type: { in: ['tfa.trusted_device_reused', 'tfa.trusted_device_revoked'] } } })
  t.same(events.map(e => e.type).sort(), ['tfa.trusted_device_reused', 'tfa.trusted_device_revoked'])
  const row = await app.prisma.trustedDevice.findFirst({ where: { userId: user.id } })
  t.equal(row?.revokedReason, 'reused')
})

t.test('GET /tfa/trusted-devices lists them; DELETE ends one', async (t) => {
  const user = await createTfaUser(app, clock)
  const laptop = await remember(app, user)
  const phone = await remember(app, user)
  const token = (await withDevice(user, laptop)).json().access_token as string
  const devices = await devicesOf(token)
  t.equal(devices.length, 2)
  t.match(devices[0], { id: String, name: 'Firefox on Linux', created_at: String, last_used_at: String, expires_at: String })
  const created = Date.parse(devices[0]!.created_at)
  t.equal(Date.parse(devices[0]!.expires_at) - created, 30 * DAY, 'TRUSTED_DEVICE_DAYS, default 30')

  const phoneId = devices.find(d => d.last_used_at === d.created_at)?.id
  const del = await app.inject({ method: 'DELETE', url: `/tfa/trusted-devices/${phoneId!}`, headers: bearer(token) })
  t.equal(del.statusCode, 204)
  t.equal((await withDevice(user, phone)).body, TFA_REQUIRED_BODY, 'the ended device must give the code')
  t.equal((await devicesOf(token)).length, 1)
  t.equal((await app.inject({ method: 'DELETE', url: `/tfa/trusted-devices/${phoneId!}`, headers: bearer(token) })).statusCode, 404, 'once')

  const other = await createTfaUser(app, clock)
  const otherToken = (await login(app, { username: other.username, password: other.password, totp: other.code() })).json().access_token as string
  const mine = (await devicesOf(token))[0]!.id
  t.equal((await app.inject({ method: 'DELETE', url: `/tfa/trusted-devices/${mine}`, headers: bearer(otherToken) })).statusCode, 404, 'another user\'s device: 404')
  t.same(await devicesOf(otherToken), [], 'and nobody sees another user\'s devices')
  t.equal((await app.inject({ method: 'DELETE', url: '/tfa/trusted-devices/not-a-uuid', headers: bearer(token) })).statusCode, 400)
})

t.test('every device ends on TFA disable, reset, re-enrolment and password change', async (t) => {
  const admin = await createTfaUser(app, clock)
  await app.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } })
  const adminToken = (await login(app, { username: admin.username, password: admin.password, totp: admin.code() })).json().access_token as string
  clock.advance(STEP_MS)

  const steps: Array<[string, (user: TfaUser, token: string) => Promise<void>]> = [
    ['disable', async (user, token) => {
      const res = await app.inject({ method: 'POST', url: '/tfa/disable', headers: bearer(token), payload: { totp: user.code() } })
      t.equal(res.statusCode, 200, res.body)
    }],
    ['reset', async (user) => {
      t.equal((await app.inject({ method: 'POST', url: `/admin/users/${user.id}/tfa/reset`, headers: bearer(adminToken) })).statusCode, 200)
    }],
    ['password change', async (user, token) => {
      const res = await app.inject({ method: 'POST', url: '/password', headers: bearer(token), payload: { current_password: user.password, totp: user.code(), new_password: user.password + ' 2' } })
      t.equal(res.statusCode, 204, res.body)
      user.password += ' 2'
    }]
  ]
  for (const [name, act] of steps) {
    const user = await createTfaUser(app, clock)
    const device = await remember(app, user)
    const token = (await login(app, { username: user.username, password: user.password, totp: user.code() })).json().access_token as string
    clock.advance(STEP_MS)
    await act(user, token)
    clock.advance(STEP_MS)
    const rows = await app.prisma.trustedDevice.findMany({ where: { userId: user.id } })
    t.ok(rows.length === 1 && rows[0]!.revokedAt !== null, `${name}: the device is revoked`)
    const after = await withDevice(user, device)
    // Without TFA the password alone logs in (200), but never through the device.
    if (after.statusCode === 200) t.equal(claimsOf(after).remembered_device, undefined, `${name}: the device played no part`)
    else t.equal(after.body, TFA_REQUIRED_BODY, `${name}: the code is asked`)
    t.equal((after.json() as { device_token?: string }).device_token, undefined, `${name}: no device token`)
  }

  // Re-enrolment after a reset: devices remembered in between (none can be: no code) and before are gone.
  const user = await createTfaUser(app, clock)
  const device = await remember(app, user)
  t.equal((await app.inject({ method: 'POST', url: `/admin/users/${user.id}/tfa/reset`, headers: bearer(adminToken) })).statusCode, 200)
  await app.prisma.trustedDevice.updateMany({ where: { userId: user.id }, data: { revokedAt: null, revokedReason: null } })
  const token = (await login(app, { username: user.username, password: user.password })).json().access_token as string
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  const { secret } = enable.json() as { secret: string }
  const { generateTotpCode } = await import('../../src/auth/totp.js')
  t.equal((await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: generateTotpCode(secret, clock.now()) } })).statusCode, 200)
  clock.advance(STEP_MS)
  t.equal((await withDevice(user, device)).body, TFA_REQUIRED_BODY, 're-enrolment ends the devices of the earlier factor')
  t.equal((await app.prisma.trustedDevice.findFirst({ where: { userId: user.id } }))?.revokedReason, 'tfa_enabled')
})

t.test('admin routes still demand a real code: a remembered device is not mfa', async (t) => {
  const admin = await createTfaUser(app, clock)
  await app.prisma.user.update({ where: { id: admin.id }, data: { role: 'admin' } })
  const device = await remember(app, admin)
  const res = await withDevice(admin, device)
  t.equal(res.statusCode, 200)
  const refused = await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(res.json().access_token) })
  t.equal(refused.statusCode, 403)
  t.equal(refused.body, ADMIN_MFA_REQUIRED_BODY)
  const keys = await app.inject({ method: 'POST', url: '/api-keys', headers: bearer(res.json().access_token), payload: { name: 'x' } })
  t.equal(keys.statusCode, 403, 'nor may it create API keys')
})

t.test('lifetime: from TRUSTED_DEVICE_DAYS after it was remembered, the code is asked again (test clock)', async (t) => {
  const short = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, TRUSTED_DEVICE_DAYS: '2' }), { now: clock.now })
  const user = await createTfaUser(short, clock)
  const device = await remember(short, user)
  // remember() moved the clock one step on from the device's creation.
  clock.advance(DAY - STEP_MS)
  const used = await withDevice(user, device, short)
  t.equal(used.statusCode, 200, 'a day later: trusted')
  const next = deviceTokenOf(used)
  clock.advance(DAY - 1000)
  const lastSecond = await withDevice(user, next, short)
  t.equal(lastSecond.statusCode, 200, 'a second before the end: trusted (use does not extend it)')
  clock.advance(1000)
  const expired = await withDevice(user, deviceTokenOf(lastSecond), short)
  t.equal(expired.body, TFA_REQUIRED_BODY, 'at the end: the code again')
  const token = (await login(short, { username: user.username, password: user.password, totp: user.code() })).json().access_token as string
  t.same(await devicesOf(token, short), [], 'and it is no longer listed')
})

t.test('hashed at rest: the token is not in the database', async (t) => {
  const user = await createTfaUser(app, clock)
  const device = await remember(app, user)
  const rows = await app.prisma.$queryRaw<Array<{ dump: string }>>`SELECT row_to_json(t)::text AS dump FROM trusted_device_tokens t`
  t.notOk(rows.some(r => r.dump.includes(device) || r.dump.includes(device.slice(11, 40))))
})

t.test('ended devices are purged with their tokens; live ones stay', async (t) => {
  const user = await createTfaUser(app, clock)
  const ended = await remember(app, user)
  const live = await remember(app, user)
  const token = (await withDevice(user, live)).json().access_token as string
  const [, endedDevice] = await devicesOf(token)
  t.equal((await app.inject({ method: 'DELETE', url: `/tfa/trusted-devices/${endedDevice!.id}`, headers: bearer(token) })).statusCode, 204)
  await app.trustedDevices.purgeEnded(clock.now() - DAY)
  t.equal(await app.prisma.trustedDevice.count({ where: { id: endedDevice!.id } }), 1, 'not before it has been ended a while')
  t.ok(await app.trustedDevices.purgeEnded(clock.now() + 1) >= 1, 'then it goes')
  t.equal(await app.prisma.trustedDevice.count({ where: { id: endedDevice!.id } }), 0)
  t.equal(await app.prisma.trustedDeviceToken.count({ where: { deviceId: endedDevice!.id } }), 0, 'with its tokens')
  t.equal((await devicesOf(token)).length, 1, 'the live device stays')
  t.equal((await withDevice(user, ended)).body, TFA_REQUIRED_BODY)
})
