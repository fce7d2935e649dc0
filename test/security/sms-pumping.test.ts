import t from 'tap'
import { errorBody, ErrorCatalogue } from '../../src/errors.js'
import type { App } from '../../src/app.js'
import { buildTestApp, createTestDatabase, sharedEnv, TestClock, testConfig } from '../helper.js'
import { bearer, countStatuses, enrolSms, DEFAULT_PASSWORD, plainUser, randomPhone } from '../flows.js'
import { startSmsReceiver } from '../sms-receiver.js'

// SMS pumping: fresh accounts (registration is open) each asking for a code to one number, or to
// premium numbers, cost the operator money. The per-user throttle can't see it; quotas per
// number, per enrolling address and for the whole service can, shared by every instance.
const QUOTA_BODY = JSON.stringify(errorBody(429, ErrorCatalogue.smsQuotaReached.message))
const COUNTRY_BODY = JSON.stringify(errorBody(400, ErrorCatalogue.smsCountryNotAllowed.message))

const receiver = await startSmsReceiver(t)
const databaseUrl = await createTestDatabase(t)
const clock = new TestClock()

let ipCounter = 0
/** A fresh client address, so that only the quota under test can trip. */
const freshIp = () => `198.51.100.${++ipCounter % 250}`

async function startEnrolment (app: App, token: string, phone: string, remoteAddress = freshIp()) {
  return await app.inject({ method: 'POST', url: '/tfa/sms/phone', headers: bearer(token), payload: { phone }, remoteAddress })
}

/** The sms.limit_reached events of these users (the apps of one test share a database). */
async function limitEvents (apps: App[], users: Array<{ id: string }>) {
  for (const app of apps) await app.audit.flush()
  return (await apps[0]!.prisma.securityEvent.findMany({ where: { type: 'sms.limit_reached', userId: { in: users.map(u => u.id) } } })).map(e => e.detail as { limit: string, purpose: string, phone: string })
}

t.test('one number, 40 fresh accounts at once on two instances: the number quota holds across both', async (t) => {
  const env = sharedEnv(databaseUrl, { ...receiver.env, SMS_NUMBER_MAX_PER_HOUR: '3', SMS_ENROL_IP_MAX_PER_HOUR: '1000' })
  const a = await buildTestApp(t, testConfig(env), { now: clock.now })
  const b = await buildTestApp(t, testConfig(env), { now: clock.now })
  const victim = randomPhone()
  const users = await Promise.all(Array.from({ length: 40 }, async () => await plainUser(a)))
  const answers = await Promise.all(users.map(async (u, i) => await startEnrolment(i % 2 === 0 ? a : b, u.token, victim)))
  t.same(countStatuses(answers), { 202: 3, 429: 37 }, 'three codes, then refused')
  t.equal(receiver.to(victim).length, 3, 'the number received three SMS, not 40')
  const refused = answers.filter(r => r.statusCode === 429)
  t.ok(refused.every(r => r.body === QUOTA_BODY), 'the quota\'s envelope')
  t.ok(refused.every(r => Number(r.headers['retry-after']) > 3000 && Number(r.headers['retry-after']) <= 3600), 'Retry-After: the rest of the hour')
  const events = await limitEvents([a, b], users)
  t.equal(events.filter(e => e.limit === 'number').length, 37, 'every refusal is an sms.limit_reached event')
  t.ok(events.every(e => e.purpose === 'verify' && !e.phone.includes(victim.slice(3, -2))), 'with the purpose and a masked number')

  const other = await startEnrolment(a, (await plainUser(a)).token, randomPhone())
  t.equal(other.statusCode, 202, 'another number is not affected')
})

t.test('enrolment sends per client address', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, ...receiver.env, SMS_ENROL_IP_MAX_PER_HOUR: '2' }), { now: clock.now })
  const users = await Promise.all(Array.from({ length: 5 }, async () => await plainUser(app)))
  const fromOne = []
  for (const u of users) fromOne.push(await startEnrolment(app, u.token, randomPhone(), '203.0.113.7'))
  t.same(fromOne.map(r => r.statusCode), [202, 202, 429, 429, 429], 'two enrolment codes from one address, then refused')
  t.equal(fromOne[2]?.body, QUOTA_BODY)
  t.equal((await startEnrolment(app, users[4]!.token, randomPhone(), '203.0.113.8')).statusCode, 202, 'another address may')
  t.ok((await limitEvents([app], users)).some(e => e.limit === 'ip'), 'audited as the ip limit')

  // Codes for logins are not enrolment sends: a user's own logins never meet the address quota.
  const enrolled = await enrolSms(app, clock, receiver)
  for (let i = 0; i < 3; i++) {
    const before = receiver.to(enrolled.phone).length
    const res = await app.inject({ method: 'POST', url: '/login', payload: { username: enrolled.username, password: DEFAULT_PASSWORD }, remoteAddress: '203.0.113.7' })
    t.equal(res.statusCode, 401)
    t.equal(receiver.to(enrolled.phone).length, before + 1, `login ${i + 1} from the exhausted address still sends its code`)
    clock.advance(61_000)
  }
})

t.test('the whole service\'s hourly quota', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, ...receiver.env, SMS_GLOBAL_MAX_PER_HOUR: '4' }), { now: clock.now })
  const users = await Promise.all(Array.from({ length: 6 }, async () => await plainUser(app)))
  const answers = await Promise.all(users.map(async u => await startEnrolment(app, u.token, randomPhone())))
  t.same(countStatuses(answers), { 202: 4, 429: 2 }, 'four SMS in all, whoever asks')
  t.equal((await limitEvents([app], users)).filter(e => e.limit === 'global').length, 2, 'audited as the global limit')
})

t.test('SMS_ALLOWED_COUNTRIES: numbers elsewhere are refused before anything is kept or sent', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl, ...receiver.env, SMS_ALLOWED_COUNTRIES: '+49, +331' }), { now: clock.now })
  const user = await plainUser(app)
  const before = receiver.messages.length
  for (const phone of ['+15005550006', '+882345678901', '+33612345678']) {
    const res = await startEnrolment(app, user.token, phone)
    t.equal(res.statusCode, 400, `${phone} refused`)
    t.equal(res.body, COUNTRY_BODY)
  }
  t.equal(receiver.messages.length, before, 'nothing sent')
  const status = (await app.inject({ method: 'GET', url: '/tfa', headers: bearer(user.token) })).json() as { pending: boolean }
  t.equal(status.pending, false)
  t.equal(await app.prisma.twoFactor.count({ where: { userId: user.id } }), 0, 'no pending number kept')
  t.equal((await startEnrolment(app, user.token, '+33123456789')).statusCode, 202, 'a listed prefix (+331) is accepted')
  clock.advance(61_000)
  t.equal((await startEnrolment(app, user.token, randomPhone())).statusCode, 202, '+49 too')
  const events = await limitEvents([app], [user])
  t.same(events.map(e => e.limit), ['country', 'country', 'country'], 'each refusal audited as the country limit')
})
