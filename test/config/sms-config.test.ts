import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { configError, PRODUCTION } from './config-helpers.js'

const SECRET = 'sms-webhook-secret-Rz4-0123456789abcdef'
const WEBHOOK = { SMS_TRANSPORT: 'webhook', SMS_WEBHOOK_URL: 'https://sms.internal/send', SMS_WEBHOOK_SECRET: SECRET }

t.test('SMS is off by default', async (t) => {
  t.same(loadConfig({}).sms, { transport: 'none' })
  t.same(loadConfig(PRODUCTION).sms, { transport: 'none' })
  t.same(loadConfig({ SMS_TRANSPORT: '' }).sms, { transport: 'none' }, 'empty counts as unset')
})

t.test('webhook: URL, secret and timeout are read', async (t) => {
  t.same(loadConfig(WEBHOOK).sms, { transport: 'webhook', webhook: { url: 'https://sms.internal/send', secret: SECRET, timeoutMs: 5000 } })
  t.same(loadConfig({ ...PRODUCTION, ...WEBHOOK, SMS_WEBHOOK_TIMEOUT_MS: '1500' }).sms.webhook?.timeoutMs, 1500)
  t.equal(loadConfig({ ...WEBHOOK, SMS_WEBHOOK_URL: 'http://127.0.0.1:9000/sms' }).sms.webhook?.url, 'http://127.0.0.1:9000/sms', 'http is accepted')
})

t.test('webhook without URL or secret is refused, naming the variable', async (t) => {
  for (const name of ['SMS_WEBHOOK_URL', 'SMS_WEBHOOK_SECRET'] as const) {
    const err = configError(t, { ...WEBHOOK, [name]: undefined })
    t.equal(err.variable, name)
    t.match(err.message, new RegExp(`^Invalid configuration: ${name} .*SMS_TRANSPORT=webhook`))
  }
})

t.test('bad values are refused, naming the variable and never echoing the value', async (t) => {
  const cases: Array<[string, string]> = [
    ['SMS_TRANSPORT', 'twilio'],
    ['SMS_WEBHOOK_URL', 'ftp://sms.internal/send'],
    ['SMS_WEBHOOK_URL', 'sms.internal/send'],
    ['SMS_WEBHOOK_URL', 'https://sms host/send?token=Kw9'],
    ['SMS_WEBHOOK_SECRET', 'short-secret-Tq2-31-characters'.padEnd(31, 'x')],
    ['SMS_WEBHOOK_TIMEOUT_MS', '99'],
    ['SMS_WEBHOOK_TIMEOUT_MS', '60001'],
    ['SMS_WEBHOOK_TIMEOUT_MS', '1.5'],
    ['SMS_WEBHOOK_TIMEOUT_MS', 'soon']
  ]
  for (const [variable, value] of cases) {
    const err = configError(t, { ...WEBHOOK, [variable]: value })
    t.equal(err.variable, variable, `${variable}=${value}: variable`)
    if (variable !== 'SMS_TRANSPORT') t.notMatch(err.message, value, `${variable}: value left out`)
  }
  t.equal(loadConfig({ ...WEBHOOK, SMS_WEBHOOK_SECRET: 'x'.repeat(32) }).sms.webhook?.secret, 'x'.repeat(32), '32 characters is enough')
  t.equal(loadConfig({ ...WEBHOOK, SMS_WEBHOOK_TIMEOUT_MS: '100' }).sms.webhook?.timeoutMs, 100)
  t.equal(loadConfig({ ...WEBHOOK, SMS_WEBHOOK_TIMEOUT_MS: '60000' }).sms.webhook?.timeoutMs, 60000)
})

t.test('log transport: allowed in development and test, refused in production', async (t) => {
  t.same(loadConfig({ SMS_TRANSPORT: 'log' }).sms, { transport: 'log' })
  t.same(loadConfig({ NODE_ENV: 'test', SMS_TRANSPORT: 'log' }).sms, { transport: 'log' })
  const err = configError(t, { ...PRODUCTION, SMS_TRANSPORT: 'log' })
  t.equal(err.variable, 'SMS_TRANSPORT')
  t.match(err.message, 'writes codes to the log')
  t.match(err.message, 'NODE_ENV=production')
})
