// One connection, no-TFA and TFA logins in alternating blocks, so both see the same machine:
// the difference of their medians is what the second factor adds.
import { combine } from '../lib/summary.mjs'
import { appendedCodeLogin, plainLogin } from '../lib/login-requests.mjs'
import { load, measure } from '../lib/load.mjs'
import { D, log } from '../lib/options.mjs'

export async function oneAtATime ({ server, queues, code }) {
  log('latency of one login at a time, alternating no TFA / TFA blocks (the cost of the second factor)')
  const url = `${server.base}/login`
  const single = { plain: [], tfa: [] }
  const block = Math.max(1, Math.round(D / 4))
  for (let round = 0; round < 4; round++) {
    single.plain.push(await measure(server.pid, () => load({ url, method: 'POST', connections: 1, duration: block, body: JSON.stringify(plainLogin) })))
    single.tfa.push(await measure(server.pid, () => load({ url, method: 'POST', connections: 1, duration: block, setupRequest: appendedCodeLogin(queues.appended, code) })))
  }
  return { singleNoTfa: combine(single.plain), singleTfa: combine(single.tfa) }
}
