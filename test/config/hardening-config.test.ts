import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { configError, PRODUCTION } from './config-helpers.js'

t.test('SMS quotas and connection timeouts: production defaults', async (t) => {
  const config = loadConfig(PRODUCTION)
  t.same(config.smsLimits, { numberMaxPerHour: 10, globalMaxPerHour: 1000, enrolIpMaxPerHour: 10, allowedCountries: undefined })
  t.same(config.http, { connectionTimeoutMs: 30000, headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 72000 })
})

t.test('SMS_ALLOWED_COUNTRIES: E.164 prefixes, comma-separated', async (t) => {
  t.same(loadConfig({ SMS_ALLOWED_COUNTRIES: '+49, +33,+1' }).smsLimits.allowedCountries, ['+49', '+33', '+1'])
  t.same(loadConfig({ SMS_ALLOWED_COUNTRIES: '+4915' }).smsLimits.allowedCountries, ['+4915'], 'a prefix may be longer than a country code')
  for (const bad of ['49', '+0', 'DE', '+49,', '+49;+33', '+49 +33']) {
    t.equal(configError(t, { SMS_ALLOWED_COUNTRIES: bad }).variable, 'SMS_ALLOWED_COUNTRIES', bad)
  }
})

t.test('bad limits stop boot, naming the variable', async (t) => {
  for (const name of ['SMS_NUMBER_MAX_PER_HOUR', 'SMS_GLOBAL_MAX_PER_HOUR', 'SMS_ENROL_IP_MAX_PER_HOUR', 'HTTP_CONNECTION_TIMEOUT_MS', 'HTTP_HEADERS_TIMEOUT_MS', 'HTTP_REQUEST_TIMEOUT_MS', 'HTTP_KEEP_ALIVE_TIMEOUT_MS']) {
    t.equal(configError(t, { [name]: '0' }).variable, name, `${name}=0`)
    t.equal(configError(t, { [name]: 'soon' }).variable, name, `${name}=soon`)
  }
  const err = configError(t, { HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })
  t.equal(err.variable, 'HTTP_HEADERS_TIMEOUT_MS')
  t.match(err.message, /must not be longer than HTTP_REQUEST_TIMEOUT_MS/)
})

t.test('device cookies: lifetime and per-device login limit', async (t) => {
  t.same(loadConfig(PRODUCTION).deviceCookies, { days: 90, loginMax: 10 })
  t.same(loadConfig({ DEVICE_COOKIE_DAYS: '0', RATE_LIMIT_LOGIN_DEVICE_MAX: '3' }).deviceCookies, { days: 0, loginMax: 3 }, '0 days turns them off')
  for (const bad of ['-1', '401', 'forever']) t.equal(configError(t, { DEVICE_COOKIE_DAYS: bad }).variable, 'DEVICE_COOKIE_DAYS', bad)
  for (const bad of ['0', 'ten']) t.equal(configError(t, { RATE_LIMIT_LOGIN_DEVICE_MAX: bad }).variable, 'RATE_LIMIT_LOGIN_DEVICE_MAX', bad)
})
