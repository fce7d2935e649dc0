// The two-step login form as a browser runs it: the password (401 with X-TFA-Receipt), then the
// code with the receipt on POST /login/tfa; one bcrypt per login. And a login from a remembered
// device: the password and the device token, which rotates at every login.
// Both run on autocannon, as the other login scenarios do: the load generator shares the two
// cores with the service, and fetch() costs it about four times as much CPU per request.
import { setTimeout as sleep } from 'node:timers/promises'
import { load, measure } from '../lib/load.mjs'
import { besideCeiling, ceilingIsStale } from '../lib/measure-ceiling.mjs'
import { CONNECTIONS, D, log, PASSWORD } from '../lib/options.mjs'
import { summarize } from '../lib/summary.mjs'

const post = async (base, route, body) =>
  await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

function record (byStatus, status, ms) {
  if (!byStatus.has(status)) byStatus.set(status, [])
  byStatus.get(status).push(ms)
}

/**
 * Per connection: the next user's password, then its receipt and a fresh code. The latency and
 * status recorded are the whole login's (a first step that is not the 401 with a receipt ends
 * it there). autocannon's own per-request figures are not used.
 */
function receiptLogins (queue, code, byStatus) {
  return [
    {
      method: 'POST',
      path: '/login',
      setupRequest: (req, context) => {
        context.user = queue.next()
        context.started = performance.now()
        return { ...req, body: JSON.stringify({ username: context.user.username, password: PASSWORD }) }
      },
      onResponse: (status, _body, context, headers) => {
        context.receipt = status === 401 ? headers['x-tfa-receipt'] : undefined
        if (context.receipt === undefined) record(byStatus, status, performance.now() - context.started)
      }
    },
    {
      method: 'POST',
      path: '/login/tfa',
      // No receipt: back to the first step with the next user (autocannon skips a null request).
      setupRequest: (req, context) => context.receipt === undefined
        ? null
        : { ...req, body: JSON.stringify({ receipt: context.receipt, totp: code(context.user.secret, Date.now() + context.user.offsetMs) }) },
      onResponse: (status, _body, context) => { record(byStatus, status, performance.now() - context.started) }
    }
  ]
}

/** Devices lent to connections one request at a time, each coming back with its rotated token. */
function deviceLogins (devices, byStatus) {
  const idle = [...devices]
  return [{
    method: 'POST',
    path: '/login',
    setupRequest: (req, context) => {
      context.device = idle.pop()
      context.started = performance.now()
      return { ...req, body: JSON.stringify({ username: context.device.username, password: PASSWORD, device_token: context.device.token }) }
    },
    onResponse: (status, body, context) => {
      record(byStatus, status, performance.now() - context.started)
      if (status !== 200) throw new Error(`trusted-device login: ${status} ${body}`)
      context.device.token = JSON.parse(body).device_token
      idle.push(context.device)
    }
  }]
}

async function loginsOf (url, requests, byStatus, duration = D) {
  const result = await load({ url, method: 'POST', requests, duration })
  return summarize(byStatus, result.duration, { errors: result.errors, timeouts: result.timeouts })
}

// The enrolment logs every TFA user in before the one-request scenarios, so their code is
// compiled before their window opens; POST /login/tfa, the receipt's codes and the device tokens
// first run here. These seconds of the same requests, not measured, keep V8 compiling them (on
// its own threads and in slower code meanwhile) out of the window, which measures steady state.
// The ceiling beside the scenario is then measured after them, not before.
const WARM_UP_SECONDS = Math.max(1, Math.round(D / 2))

async function warmedUp (warmUp) {
  await warmUp()
  ceilingIsStale()
  // The requests the load generator dropped at its end still hold the cores for a hash time or two.
  await sleep(1000)
}

/**
 * POST /login, a 503 waiting its Retry-After as a well-behaved client does (the logins the last
 * load abandoned when it stopped may still hold every hash slot); the last answer and its body.
 */
async function loginPatiently (base, body) {
  for (let attempt = 1; ; attempt++) {
    const res = await post(base, '/login', body)
    if (res.status !== 503 || attempt === 5) return { res, body: await res.json() }
    await res.text()
    await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000)
  }
}

export async function twoStep ({ server, queues, code }) {
  log('two-step login: password → 401 with the receipt → POST /login/tfa with the code')
  await warmedUp(async () => {
    const byStatus = new Map()
    const warm = await loginsOf(server.base, receiptLogins(queues.receipt, code, byStatus), byStatus, WARM_UP_SECONDS)
    if (!(warm.statuses[200] > 0)) throw new Error(`two-step warm-up: no login completed (${JSON.stringify(warm.statuses)})`)
  })
  const receiptLogin = await besideCeiling(() => measure(server.pid, async () => {
    const byStatus = new Map()
    return await loginsOf(server.base, receiptLogins(queues.receipt, code, byStatus), byStatus)
  }))

  log('login with a remembered device (password + device_token)')
  const devices = []
  for (let i = 0; i < CONNECTIONS; i++) {
    const user = queues.receipt.next()
    const { res, body } = await loginPatiently(server.base, { username: user.username, password: PASSWORD, totp: code(user.secret, Date.now() + user.offsetMs), remember_device: true })
    if (res.status !== 200 || body.device_token === undefined) throw new Error(`remember device: ${res.status} ${JSON.stringify(body)}`)
    devices.push({ username: user.username, token: body.device_token })
  }
  // Request by request: autocannon abandons the logins in flight when it stops, and a device
  // whose rotated token never came back would be a reused token next time (revoked).
  await warmedUp(async () => {
    const until = Date.now() + WARM_UP_SECONDS * 1000
    while (Date.now() < until) {
      await Promise.all(devices.map(async (device) => {
        const { res, body } = await loginPatiently(server.base, { username: device.username, password: PASSWORD, device_token: device.token })
        if (res.status !== 200) throw new Error(`trusted-device warm-up: ${res.status} ${JSON.stringify(body)}`)
        device.token = body.device_token
      }))
    }
  })
  const trustedDeviceLogin = await besideCeiling(() => measure(server.pid, async () => {
    const byStatus = new Map()
    return await loginsOf(server.base, deviceLogins(devices, byStatus), byStatus)
  }))
  return { receiptLogin, trustedDeviceLogin }
}
