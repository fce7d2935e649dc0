// 50 logins in flight: as many as the service has hash slots from this process (their
// latencies are the ones reported), the rest from a lowest-priority process standing in for
// clients on other machines, whose CPU on a real deployment is not the service's.
import { plainLogin } from '../lib/login-requests.mjs'
import { load, measure, runLowPriority } from '../lib/load.mjs'
import { CONNECTIONS, D, log } from '../lib/options.mjs'

export async function overload ({ server }) {
  log('overload: 50 concurrent logins')
  const url = `${server.base}/login`
  const body = JSON.stringify(plainLogin)
  const others = await runLowPriority({ url, method: 'POST', connections: 50 - CONNECTIONS, duration: D, timeout: 30, headers: { 'content-type': 'application/json' }, body }, async (start) =>
    await measure(server.pid, () => { start(); return load({ url, method: 'POST', connections: CONNECTIONS, body }) }))
  return { overload: others.measured, overloadOthers: others.low }
}
