// Overload from clients that retry a 503 at once (most do; few honour Retry-After): autocannon
// sends each connection's next login as soon as the last answer arrives. 10 and 50 in flight;
// CONNECTIONS of them measured here (their latencies are the ones reported), the rest from a
// lowest-priority process standing in for clients on other machines.
import { plainLogin } from '../lib/login-requests.mjs'
import { load, measure, runLowPriority } from '../lib/load.mjs'
import { besideCeiling } from '../lib/measure-ceiling.mjs'
import { CONNECTIONS, D, log } from '../lib/options.mjs'

async function storm (server, inFlight) {
  const url = `${server.base}/login`
  const body = JSON.stringify(plainLogin)
  const measuredConnections = Math.min(CONNECTIONS, inFlight)
  const { measured, low } = await runLowPriority({ url, method: 'POST', connections: inFlight - measuredConnections, duration: D, timeout: 30, headers: { 'content-type': 'application/json' }, body }, async (start) =>
    await measure(server.pid, () => { start(); return load({ url, method: 'POST', connections: measuredConnections, body }) }))
  // Every login served, by either side, counts toward the throughput.
  const logins = (measured.statuses[200] ?? 0) + (low.statuses[200] ?? 0)
  return { ...measured, loginsPerSecond: logins / D, others: low }
}

export async function retryStorm ({ server }) {
  log('overload, clients retrying a 503 at once: 10 in flight')
  const retry10 = await besideCeiling(() => storm(server, 10))
  log('overload, clients retrying a 503 at once: 50 in flight')
  const retry50 = await besideCeiling(() => storm(server, 50))
  return { retry10, retry50 }
}
