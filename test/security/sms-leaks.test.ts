import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { bearer, login, plainUser, randomPhone, TFA_REQUIRED_BODY } from '../flows.js'
import { startSmsReceiver } from '../sms-receiver.js'

const PASSWORD = 'correct horse battery'

/** An app logging every line at the most verbose level into `lines`. */
async function appWithLog (t: Test, env: Record<string, string>) {
  const lines: string[] = []
  const logStream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      callback()
    }
  })
  const clock = new TestClock()
  const app = await buildTestApp(t, testConfig({ LOG_LEVEL: 'trace', DATABASE_URL: await createTestDatabase(t), ...env }), { logStream, now: clock.now })
  return { app, clock, log: () => lines.join('\n'), lines }
}

t.test('webhook transport: codes, numbers and the webhook secret never reach the log or the audit trail', async (t) => {
  const receiver = await startSmsReceiver(t)
  const { app, clock, log } = await appWithLog(t, receiver.env)
  const user = await plainUser(app, { password: PASSWORD })
  const { username, token } = user
  const phone = randomPhone()
  await app.inject({ method: 'POST', url: '/tfa/sms/phone', headers: bearer(token), payload: { phone } })
  const enrolCode = receiver.lastCode(phone)
  t.equal((await app.inject({ method: 'POST', url: '/tfa/sms/verify', headers: bearer(token), payload: { code: enrolCode } })).statusCode, 200)
  clock.advance(60_000)
  t.equal((await login(app, { username, password: PASSWORD })).body, TFA_REQUIRED_BODY)
  const loginCode = receiver.lastCode(phone)
  receiver.failNext(2)
  clock.advance(60_000)
  t.equal((await login(app, { username, password: PASSWORD })).statusCode, 503, 'a failed delivery is logged too')
  t.equal((await login(app, { username, password: PASSWORD, totp: loginCode })).statusCode, 200, 'and the code sent before still works')

  const text = log()
  t.ok(text.length > 0, 'the log is not empty')
  for (const [name, secret] of [['enrolment code', enrolCode], ['login code', loginCode], ['phone number', phone.slice(1)], ['webhook secret', receiver.env.SMS_WEBHOOK_SECRET]] as const) {
    t.notOk(text.includes(secret), `no ${name} in the log`)
  }
  await app.audit.flush()
  const events = JSON.stringify(await app.prisma.securityEvent.findMany({ where: { userId: user.id } }))
  t.match(events, /sms\.sent/, 'sends are in the audit trail')
  t.match(events, /sms\.delivery_failed/)
  for (const secret of [enrolCode, loginCode, phone.slice(1)]) t.notOk(events.includes(secret), 'with neither code nor number')
})

t.test('log transport (development only): the code is in the log, the number masked', async (t) => {
  const { app, log, lines } = await appWithLog(t, { SMS_TRANSPORT: 'log' })
  const { token } = await plainUser(app, { password: PASSWORD })
  const phone = randomPhone()
  const res = await app.inject({ method: 'POST', url: '/tfa/sms/phone', headers: bearer(token), payload: { phone } })
  t.equal(res.statusCode, 202, res.body)
  const line = lines.find(l => l.includes('sms_message'))
  t.ok(line, 'one line carries the message')
  const code = /"sms_message":"([0-9]{6}) is your/.exec(line ?? '')?.[1]
  t.ok(code, 'with the code')
  t.notOk(log().includes(phone.slice(1)), 'but never the whole number')
  const verified = await app.inject({ method: 'POST', url: '/tfa/sms/verify', headers: bearer(token), payload: { code } })
  t.equal(verified.statusCode, 200, 'and the logged code works')
})
