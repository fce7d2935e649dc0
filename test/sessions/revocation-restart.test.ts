import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { createRevocationList, RevocationNotSharedError } from '../../src/sessions/revocation-list.js'
import { connectedClient, testLog, waitFor } from './redis-helpers.js'
import { freePort, hasRedisServer, startRedisServer } from '../helper.js'

// Redis going away and coming back empty can't be done to the suite's shared Redis: these tests
// start a private redis-server (no persistence, as in CI) and kill it.
const HOUR = 3_600_000

async function kill (child: ChildProcess) {
  child.kill('SIGKILL')
  if (child.exitCode === null) await once(child, 'exit')
}

/**
 * A TCP relay to the Redis on `targetPort` that can go silent: while frozen it drops every byte
 * both ways and closes nothing, like a network partition (no RST, no FIN).
 */
async function startSilentableRelay (t: Test, targetPort: number) {
  let frozen = false
  const sockets = new Set<Socket>()
  const server = createServer((downstream) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const [from, to] of [[downstream, upstream], [upstream, downstream]] as const) {
      sockets.add(from)
      from.on('data', (chunk) => { if (!frozen) to.write(chunk) })
      from.on('error', () => {})
      from.on('close', () => { sockets.delete(from); to.destroy() })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => { frozen = true },
    thaw: () => { frozen = false }
  }
}

t.test('Redis restarting empty: both instances go unhealthy, come back, and lose nothing', { skip: !hasRedisServer && 'redis-server is not installed: these tests need a Redis of their own to kill' }, async (t) => {
  const port = await freePort()
  const topology = { redisUrl: `redis://127.0.0.1:${port}` }
  const prefix = `test:${randomBytes(6).toString('hex')}:`
  const start = async (name: string) => {
    const log = testLog()
    const list = createRevocationList({ redis: await connectedClient(t, topology), keyPrefix: prefix, now: Date.now, log, connectionName: name })
    t.teardown(() => list.close())
    await list.start()
    return Object.assign(list, { log })
  }

  // Redis is not up yet: the list starts anyway, unhealthy, and says why.
  const a = await start('a')
  t.notOk(a.healthy, 'started without Redis: unhealthy')
  t.match(a.log.lines, [/^error revocation feed unavailable at start/])
  let server = await startRedisServer(t, port)
  await waitFor(() => a.healthy, 10_000, 'a healthy once Redis is up')
  t.pass('a healthy once Redis is up')

  const b = await start('b')
  t.ok(b.healthy, 'b healthy')
  await a.revoke(['before'], Date.now() + HOUR)
  await waitFor(() => b.isRevoked('before'), 1000, 'b has it')

  await kill(server)
  await waitFor(() => !a.healthy && !b.healthy, 5000, 'both report the loss')
  t.pass('both unhealthy while Redis is down')
  await t.rejects(a.revoke(['during'], Date.now() + HOUR), RevocationNotSharedError, 'a revocation can\'t be shared')
  t.ok(a.isRevoked('during'), 'but holds on its instance')
  t.notOk(b.isRevoked('during'), 'b could not know yet')

  server = await startRedisServer(t, port)
  await waitFor(() => a.healthy && b.healthy, 15_000, 'both back')
  t.pass('both healthy again')
  t.ok(b.isRevoked('before'), 'b kept what it had')
  await waitFor(() => b.isRevoked('during'), 1000, 'b learns what a revoked while Redis was down')
  t.pass('b learns what a revoked while Redis was down')

  // The restarted Redis came back empty: the instances put back what they knew.
  const c = await start('c')
  t.ok(c.isRevoked('before') && c.isRevoked('during'), 'an instance started after the restart knows both')
  t.match(a.log.lines, [/feed unavailable at start/, /feed is back/, /feed lost/, /not shared yet/, /feed is back/])
  await kill(server)
})

t.test('a feed that goes silent (no RST) is noticed by the heartbeat', { skip: !hasRedisServer && 'redis-server is not installed: these tests need a Redis of their own' }, async (t) => {
  const port = await freePort()
  const server = await startRedisServer(t, port)
  const relay = await startSilentableRelay(t, port)
  const prefix = `test:${randomBytes(6).toString('hex')}:`
  const log = testLog()
  const list = createRevocationList({
    redis: await connectedClient(t, { redisUrl: `redis://127.0.0.1:${relay.port}` }), keyPrefix: prefix, now: Date.now, log, heartbeatMs: 100
  })
  t.teardown(() => list.close())
  await list.start()
  t.ok(list.healthy, 'healthy through the relay')
  await new Promise(resolve => setTimeout(resolve, 500))
  t.ok(list.healthy, 'pings answered in subscriber mode: still healthy')
  t.same(log.lines, [], 'nothing logged')

  relay.freeze()
  const noticed = await waitFor(() => !list.healthy, 5000, 'the silent feed noticed')
  t.ok(noticed <= 3000, `unhealthy ${noticed} ms after the network went silent (heartbeat + command timeout)`)
  relay.thaw()
  await waitFor(() => list.healthy, 10_000, 'healthy again once the network is back')
  t.pass('healthy again once the network is back')
  await kill(server)
})
