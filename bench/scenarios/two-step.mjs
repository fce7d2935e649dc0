// The two-step login form as a browser runs it: the password (401 with X-TFA-Receipt), then the
// code with the receipt on POST /login/tfa; one bcrypt per login. And a login from a remembered
// device: the password and the device token, which rotates at every login.
import { measure } from '../lib/load.mjs'
import { CONNECTIONS, D, log, PASSWORD } from '../lib/options.mjs'
import { summarize } from '../lib/summary.mjs'

const post = async (base, route, body) =>
  await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

function record (byStatus, status, ms) {
  if (!byStatus.has(status)) byStatus.set(status, [])
  byStatus.get(status).push(ms)
}

/** A 503 (every hash slot taken) waits its Retry-After, as a well-behaved client does. */
async function backOff (res) {
  await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after') ?? 1) * 1000))
}

/** One user of `queue` at a time: password, then receipt + code; the latency is the whole login. */
async function receiptLogins (base, queue, code, until, byStatus) {
  while (Date.now() < until) {
    const user = queue.next()
    const started = performance.now()
    const first = await post(base, '/login', { username: user.username, password: PASSWORD })
    await first.text()
    const receipt = first.headers.get('x-tfa-receipt')
    if (first.status !== 401 || receipt === null) {
      record(byStatus, first.status, performance.now() - started)
      if (first.status === 503) await backOff(first)
      continue
    }
    const second = await post(base, '/login/tfa', { receipt, totp: code(user.secret, Date.now() + user.offsetMs) })
    await second.text()
    record(byStatus, second.status, performance.now() - started)
  }
}

/** One device per connection: the password and its device token, the rotated one kept each time. */
async function deviceLogins (base, device, until, byStatus) {
  while (Date.now() < until) {
    const started = performance.now()
    const res = await post(base, '/login', { username: device.username, password: PASSWORD, device_token: device.token })
    const body = await res.json()
    record(byStatus, res.status, performance.now() - started)
    if (res.status === 200) device.token = body.device_token
    else if (res.status === 503) await backOff(res)
    else throw new Error(`trusted-device login: ${res.status} ${JSON.stringify(body)}`)
  }
}

export async function twoStep ({ server, queues, code }) {
  log('two-step login: password → 401 with the receipt → POST /login/tfa with the code')
  const receiptLogin = await measure(server.pid, async () => {
    const byStatus = new Map()
    const until = Date.now() + D * 1000
    await Promise.all(Array.from({ length: CONNECTIONS }, () => receiptLogins(server.base, queues.receipt, code, until, byStatus)))
    return summarize(byStatus, D, { errors: 0, timeouts: 0 })
  })

  log('login with a remembered device (password + device_token)')
  const devices = []
  for (let i = 0; i < CONNECTIONS; i++) {
    const user = queues.receipt.next()
    const res = await post(server.base, '/login', { username: user.username, password: PASSWORD, totp: code(user.secret, Date.now() + user.offsetMs), remember_device: true })
    const body = await res.json()
    if (res.status !== 200 || body.device_token === undefined) throw new Error(`remember device: ${res.status} ${JSON.stringify(body)}`)
    devices.push({ username: user.username, token: body.device_token })
  }
  const trustedDeviceLogin = await measure(server.pid, async () => {
    const byStatus = new Map()
    const until = Date.now() + D * 1000
    await Promise.all(devices.map((device) => deviceLogins(server.base, device, until, byStatus)))
    return summarize(byStatus, D, { errors: 0, timeouts: 0 })
  })
  return { receiptLogin, trustedDeviceLogin }
}
