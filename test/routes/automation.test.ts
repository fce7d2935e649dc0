import t from 'tap'
import { ensureAdmin } from '../../src/auth/admin.js'
import { generateTotpCode } from '../../src/auth/totp.js'
import { AUTOMATION_WARNING, errorBody, ErrorCatalogue } from '../../src/errors.js'
import { buildTestApp, TestClock } from '../helper.js'
import { bearer, loginToken, randomUsername } from '../flows.js'

const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })
const PASSWORD = 'correct horse battery'
const AUTOMATION_BODY = JSON.stringify(errorBody(409, ErrorCatalogue.automationAccount.message))

async function registerKind (kind?: string) {
  const username = randomUsername()
  const res = await app.inject({ method: 'POST', url: '/users', payload: { username, password: PASSWORD, ...(kind !== undefined ? { kind } : {}) } })
  return { res, username, id: (res.json() as { id: string }).id }
}

const enable = async (token: string, payload?: Record<string, unknown>) =>
  await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token), ...(payload !== undefined ? { payload } : {}) })

t.test('registration takes an optional kind; anything else is refused', async (t) => {
  const human = await registerKind()
  t.equal(human.res.statusCode, 201)
  t.same(Object.keys(human.res.json() as object).sort(), ['id', 'username'])
  t.equal((await app.prisma.user.findUniqueOrThrow({ where: { id: human.id } })).kind, 'human', 'human by default')
  const bot = await registerKind('automation')
  t.equal(bot.res.statusCode, 201)
  t.equal((await app.prisma.user.findUniqueOrThrow({ where: { id: bot.id } })).kind, 'automation')
  t.equal((await registerKind('robot')).res.statusCode, 400)
})

t.test('enable on an automation account: 409 with the warning and nothing enabled, unless confirmed', async (t) => {
  const bot = await registerKind('automation')
  const token = await loginToken(app, { username: bot.username, password: PASSWORD })
  const refused = await enable(token)
  t.equal(refused.statusCode, 409)
  t.equal(refused.body, AUTOMATION_BODY)
  t.ok(refused.json().error.message.startsWith(AUTOMATION_WARNING), 'the automation warning')
  t.equal((await enable(token, { confirm_automation: false })).statusCode, 409, 'false is no confirmation')
  t.equal(await app.prisma.twoFactor.count({ where: { userId: bot.id } }), 0, 'no pending secret either')
  t.same((await app.inject({ method: 'GET', url: '/tfa', headers: bearer(token) })).json(), { enabled: false, method: null, phone: null, pending: false, device_name: null, recovery_codes_left: 0 })

  t.equal((await enable(token, { confirm_automation: 'yes' })).statusCode, 400, 'a boolean, not a string')
  t.equal((await enable(token, { other: true })).statusCode, 400, 'no other field')

  const confirmed = await enable(token, { confirm_automation: true })
  t.equal(confirmed.statusCode, 200, confirmed.body)
  const { secret } = confirmed.json() as { secret: string }
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: generateTotpCode(secret, clock.now()) } })
  t.equal(validate.statusCode, 200, 'and it switches on as usual')
  clock.advance(30_000)
})

t.test('a human account needs no confirmation, with or without a body', async (t) => {
  for (const payload of [undefined, {}, { confirm_automation: true }]) {
    const human = await registerKind()
    const token = await loginToken(app, { username: human.username, password: PASSWORD })
    t.equal((await enable(token, payload)).statusCode, 200, JSON.stringify(payload))
  }
})

t.test('an administrator changes the kind; the admin view shows it', async (t) => {
  const adminName = randomUsername()
  await ensureAdmin(app, adminName, PASSWORD)
  const adminToken = await loginToken(app, { username: adminName, password: PASSWORD })
  const user = await registerKind()
  const userToken = await loginToken(app, { username: user.username, password: PASSWORD })

  const view = await app.inject({ method: 'GET', url: `/admin/users/${user.id}`, headers: bearer(adminToken) })
  t.equal(view.json().kind, 'human')

  const patch = async (token: string, id: string, payload: unknown) => await app.inject({ method: 'PATCH', url: `/admin/users/${id}`, headers: bearer(token), payload: payload as Record<string, unknown> })
  t.equal((await patch(userToken, user.id, { kind: 'automation' })).statusCode, 403, 'not for users')
  t.equal((await patch(adminToken, user.id, { kind: 'robot' })).statusCode, 400)
  t.equal((await patch(adminToken, user.id, {})).statusCode, 400)
  t.equal((await patch(adminToken, '00000000-0000-4000-8000-000000000000', { kind: 'automation' })).statusCode, 404)

  const changed = await patch(adminToken, user.id, { kind: 'automation' })
  t.equal(changed.statusCode, 200, changed.body)
  t.equal(changed.json().kind, 'automation')
  t.equal((await enable(userToken)).statusCode, 409, 'the new kind applies at once')

  t.equal((await patch(adminToken, user.id, { kind: 'human' })).json().kind, 'human')
  t.equal((await enable(userToken)).statusCode, 200)

  await app.audit.flush()
  const events = await app.prisma.securityEvent.findMany({ where: { userId: user.id, type: 'admin.kind_changed' } })
  t.equal(events.length, 2)
})
