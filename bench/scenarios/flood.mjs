// Real limits; the legitimate client is many users behind many addresses, the flood one address
// guessing one account's password.
import { setTimeout as sleep } from 'node:timers/promises'
import { plainLogin } from '../lib/login-requests.mjs'
import { load, measure, runLowPriority } from '../lib/load.mjs'
import { D, log, PASSWORD } from '../lib/options.mjs'
import { insertUsers } from '../lib/scratch-state.mjs'
import { startServer, stop } from '../lib/servers.mjs'

export async function flood ({ env, db, hash, ceilingRps }) {
  log('flood: wrong passwords from one client while another logs in')
  const limited = await startServer({ ...env, RATE_LIMIT_LOGIN_MAX: '20', RATE_LIMIT_LOGIN_WINDOW: '60000' }, 'twofold (rate limited)')
  const url = `${limited.base}/login`
  // Enough users that, at twice the ceiling's rate, none logs in more than about 10 times: under
  // the per-username limit. Each request comes from an address of its own: under the per-IP one.
  const legit = await insertUsers(db, 'legit', Math.ceil(ceilingRps * D * 2 / 10) + 50, hash)
  let n = 0
  const legitRequest = (req) => {
    const u = legit[n % legit.length]
    n++
    return { ...req, headers: { ...req.headers, 'x-forwarded-for': `10.1.${(n >> 8) & 255}.${n & 255}` }, body: JSON.stringify({ username: u.username, password: PASSWORD }) }
  }
  const legitUnflooded = await measure(limited.pid, () => load({ url, method: 'POST', setupRequest: legitRequest }))
  // Let the logins abandoned when that run stopped finish: they hold hash slots for a moment.
  await sleep(1000)
  // The flood's sender runs at the lowest priority in its own process: an attacker's CPU is
  // not the service's. What it costs the service (accepting, refusing) is measured.
  const floodOptions = { url, method: 'POST', connections: 32, duration: D, timeout: 30, headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' }, body: JSON.stringify({ ...plainLogin, password: 'not-the-password' }) }
  const { measured: legitFlooded, low: floodRun } = await runLowPriority(floodOptions, async (start) => {
    start()
    return await load({ url, method: 'POST', setupRequest: legitRequest })
  })
  await stop(limited.child)
  return { legitUnflooded, legitFlooded, flood: floodRun }
}
