// POST /token/refresh: each connection keeps one session going, always with its newest refresh
// token, as a frontend does (a rotation is a transaction: the old token marked, a new one stored).
import { setTimeout as sleep } from 'node:timers/promises'
import { logInSession } from '../lib/api-client.mjs'
import { measure } from '../lib/load.mjs'
import { plainLogin } from '../lib/login-requests.mjs'
import { CONNECTIONS, D, log } from '../lib/options.mjs'
import { summarize } from '../lib/summary.mjs'

async function refreshChain (base, refreshToken, until, byStatus) {
  let token = refreshToken
  while (Date.now() < until) {
    const started = performance.now()
    const res = await fetch(`${base}/token/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: token }) })
    const body = await res.json()
    const ms = performance.now() - started
    if (!byStatus.has(res.status)) byStatus.set(res.status, [])
    byStatus.get(res.status).push(ms)
    if (res.status !== 200) {
      // A refused chain starts over with a fresh login, so the load stays on the route measured.
      await sleep(100)
      token = (await logInSession(base, plainLogin)).refresh_token
      continue
    }
    token = body.refresh_token
  }
}

export async function refresh ({ server }) {
  log('refresh: each connection rotates its own session\'s refresh token')
  const sessions = []
  for (let i = 0; i < CONNECTIONS; i++) sessions.push(await logInSession(server.base, plainLogin))
  const result = await measure(server.pid, async () => {
    const byStatus = new Map()
    const until = Date.now() + D * 1000
    await Promise.all(sessions.map(s => refreshChain(server.base, s.refresh_token, until, byStatus)))
    return summarize(byStatus, D, { errors: 0, timeouts: 0 })
  })
  return { refresh: result }
}
