// Logins at CONNECTIONS in flight (every hash slot busy): without TFA, with the code appended to
// the password, with it in `totp`; and the right password with a wrong code.
import { appendedCodeLogin, codeFieldLogin, plainLogin } from '../lib/login-requests.mjs'
import { load, measure } from '../lib/load.mjs'
import { besideCeiling } from '../lib/measure-ceiling.mjs'
import { log, PASSWORD } from '../lib/options.mjs'

export async function concurrentLogins ({ server, queues, code }) {
  const url = `${server.base}/login`
  log('login, no TFA')
  const loginNoTfa = await besideCeiling(() => measure(server.pid, () => load({ url, method: 'POST', body: JSON.stringify(plainLogin) })))
  log('login, TFA, code appended')
  const loginTfaAppended = await besideCeiling(() => measure(server.pid, () => load({ url, method: 'POST', setupRequest: appendedCodeLogin(queues.appended, code) })))
  log('login, TFA, code in its own field')
  const loginTfaField = await besideCeiling(() => measure(server.pid, () => load({ url, method: 'POST', setupRequest: codeFieldLogin(queues.field, code) })))
  return { loginNoTfa, loginTfaAppended, loginTfaField }
}

export async function wrongCodeLogins ({ server, wrongCodeUser, code }) {
  log('right password, wrong code')
  // Not the current code: half the code space away from it.
  const wrong = String((Number(code(wrongCodeUser.secret)) + 500000) % 1000000).padStart(6, '0')
  const body = JSON.stringify({ username: wrongCodeUser.username, password: PASSWORD, totp: wrong })
  return { wrongCode: await measure(server.pid, () => load({ url: `${server.base}/login`, method: 'POST', body })) }
}
