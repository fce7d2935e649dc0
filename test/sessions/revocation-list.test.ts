import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { createRevocationList, RevocationNotSharedError, type RevocationList, type RevocationListOptions } from '../../src/sessions/revocation-list.js'
import { createTestRedis, TestClock } from '../helper.js'
import { connectedClient, killClientsNamed, suiteTopology, testLog, waitFor } from './redis-helpers.js'

// Against the suite's Redis: one node, or the cluster when TEST_REDIS_CLUSTER_NODES is set.
// Under the cluster, b's subscriber is found on whichever node it chose, and may come back on another.
t.comment(`revocation list against ${suiteTopology.redisCluster !== undefined ? 'the Redis Cluster' : 'single-node Redis'}`)
const admin = createTestRedis()
admin.on('error', () => {})
await admin.ping()
t.teardown(() => admin.disconnect())

const HOUR = 3_600_000

/** A fresh key prefix, its sorted set deleted at the end. */
function freshPrefix (t: Test) {
  const prefix = `test:${randomBytes(6).toString('hex')}:`
  t.teardown(async () => { await admin.del(`${prefix}revoked`) })
  return prefix
}

/** One instance's list, on its own Redis connection, as the app would make it. */
async function startList (t: Test, prefix: string, name: string, options: Partial<RevocationListOptions> = {}) {
  const log = testLog()
  const list = createRevocationList({ redis: await connectedClient(t, suiteTopology), keyPrefix: prefix, now: Date.now, log, connectionName: `${prefix}${name}`, ...options })
  t.teardown(() => list.close())
  await list.start()
  return Object.assign(list, { log })
}

t.test('revoked on one instance: the other two refuse it within a second', async (t) => {
  const prefix = freshPrefix(t)
  const [a, b, c] = [await startList(t, prefix, 'a'), await startList(t, prefix, 'b'), await startList(t, prefix, 'c')]
  t.ok(a.healthy && b.healthy && c.healthy, 'all three healthy once started')
  const until = Date.now() + HOUR
  const pending = a.revoke(['s-1', 's-2'], until)
  t.ok(a.isRevoked('s-1') && a.isRevoked('s-2'), 'in effect on its own instance before the promise resolves')
  await pending
  const elapsed = await waitFor(() => b.isRevoked('s-1') && b.isRevoked('s-2') && c.isRevoked('s-1') && c.isRevoked('s-2'), 1000, 'seen by b and c')
  t.ok(elapsed < 1000, `b and c refuse them after ${elapsed} ms`)
  t.notOk(b.isRevoked('s-3'), 'nothing else is revoked')
  t.equal(Number(await admin.zscore(`${prefix}revoked`, 's-1')), until, 'persisted with the expiry as score')
  t.same([a.log.lines, b.log.lines, c.log.lines], [[], [], []], 'nothing logged')
})

t.test('an instance that starts later loads what was revoked before', async (t) => {
  const prefix = freshPrefix(t)
  const a = await startList(t, prefix, 'a')
  await a.revoke(['early'], Date.now() + HOUR)
  const late = await startList(t, prefix, 'late')
  t.ok(late.isRevoked('early'), 'loaded at start')
})

t.test('a killed subscriber: unhealthy, then honours what was revoked while it was away', async (t) => {
  const prefix = freshPrefix(t)
  const a = await startList(t, prefix, 'a')
  // A slow comeback, so the test can revoke while b is surely away.
  const b = await startList(t, prefix, 'b', { retryDelayMs: () => 1500 })
  t.ok(b.healthy, 'b healthy at first')
  t.equal(await killClientsNamed(admin, `${prefix}b`), 1, 'b\'s subscriber connection killed (CLIENT KILL ID)')
  await waitFor(() => !b.healthy, 1000, 'b reports the loss')
  t.pass('b is unhealthy')

  await a.revoke(['while-away-1', 'while-away-2'], Date.now() + HOUR)
  await sleep(100)
  t.notOk(b.isRevoked('while-away-1'), 'b missed the message (it was away)')
  t.notOk(b.healthy, 'and says so')

  const back = await waitFor(() => b.healthy, 5000, 'b back')
  t.ok(b.isRevoked('while-away-1') && b.isRevoked('while-away-2'), `back after ${back} ms, b refuses what was revoked meanwhile`)
  await a.revoke(['after'], Date.now() + HOUR)
  await waitFor(() => b.isRevoked('after'), 1000, 'b subscribed again')
  t.pass('and hears new revocations again')
  t.match(b.log.lines, [/^error revocation feed lost/, /^warn revocation feed is back/])
})

t.test('entries expire, from memory and from Redis', async (t) => {
  const prefix = freshPrefix(t)
  const clock = new TestClock()
  const a = await startList(t, prefix, 'a', { now: clock.now, pruneEveryMs: 50 })
  const b = await startList(t, prefix, 'b', { now: clock.now })
  await a.revoke(['short'], clock.now() + 1000)
  await a.revoke(['long'], clock.now() + HOUR)
  await waitFor(() => b.isRevoked('short') && b.isRevoked('long'), 1000, 'b has both')
  clock.advance(1000)
  t.notOk(a.isRevoked('short'), 'expired at untilMs on a')
  t.notOk(b.isRevoked('short'), 'and on b')
  t.ok(a.isRevoked('long') && b.isRevoked('long'), 'the longer one stays')
  await waitFor(() => a.size === 1, 1000, 'pruned from memory')
  await waitFor(async () => await admin.zscore(`${prefix}revoked`, 'short') === null, 1000, 'pruned from Redis')
  t.not(await admin.zscore(`${prefix}revoked`, 'long'), null, 'the live one kept in Redis')

  await admin.zadd(`${prefix}revoked`, clock.now() - 1, 'stale', clock.now() + HOUR, 'planted')
  const c = await startList(t, prefix, 'c', { now: clock.now })
  t.notOk(c.isRevoked('stale'), 'an expired entry is not loaded')
  t.equal(await admin.zscore(`${prefix}revoked`, 'stale'), null, 'and is removed at load')
  t.ok(c.isRevoked('planted') && c.isRevoked('long'), 'live ones are')

  await a.revoke(['past'], clock.now())
  t.notOk(a.isRevoked('past'), 'an expiry already past revokes nothing')
  t.equal(await admin.zscore(`${prefix}revoked`, 'past'), null, 'nor is it stored')
})

t.test('a later expiry is never shortened', async (t) => {
  const prefix = freshPrefix(t)
  const clock = new TestClock()
  const a = await startList(t, prefix, 'a', { now: clock.now })
  const b = await startList(t, prefix, 'b', { now: clock.now })
  await a.revoke(['x'], clock.now() + HOUR)
  await a.revoke(['x'], clock.now() + 1000)
  t.equal(Number(await admin.zscore(`${prefix}revoked`, 'x')), clock.now() + HOUR, 'Redis keeps the later expiry')
  await waitFor(() => b.isRevoked('x'), 1000, 'b has it')
  clock.advance(2000)
  t.ok(a.isRevoked('x') && b.isRevoked('x'), 'both still refuse it past the shorter one')
})

t.test('a malformed message on the channel is ignored', async (t) => {
  const prefix = freshPrefix(t)
  const a = await startList(t, prefix, 'a')
  const b = await startList(t, prefix, 'b')
  await admin.publish(`${prefix}revoked`, 'not json')
  await admin.publish(`${prefix}revoked`, JSON.stringify([[1, 2], ['ok-but-no-expiry'], 'flat']))
  await a.revoke(['real'], Date.now() + HOUR)
  await waitFor(() => b.isRevoked('real'), 1000, 'b still works')
  t.equal(b.size, 1, 'nothing from the garbage')
  t.match(b.log.lines, [/^warn malformed revocation message/])
})

t.test('in-process mode (no Redis): a set in this process', async (t) => {
  const clock = new TestClock()
  const log = testLog()
  const list: RevocationList = createRevocationList({ keyPrefix: 'unused:', now: clock.now, log, pruneEveryMs: 20 })
  t.ok(list.healthy, 'healthy before start')
  await list.start()
  t.teardown(() => list.close())
  t.ok(list.healthy, 'healthy after start')
  const pending = list.revoke(['a', 'b'], clock.now() + 1000)
  t.ok(list.isRevoked('a') && list.isRevoked('b'), 'at once')
  await pending
  t.notOk(list.isRevoked('c'), 'only those')
  clock.advance(1000)
  t.notOk(list.isRevoked('a'), 'expired')
  await waitFor(() => list.size === 0, 1000, 'memory pruned')
  t.pass('memory pruned')
  await list.close()
  t.ok(list.healthy, 'still healthy: nothing to lose')
  t.same(log.lines, [], 'nothing logged')
})

t.test('revoke rejects when Redis cannot take it, but holds locally', async (t) => {
  const prefix = freshPrefix(t)
  const client = await connectedClient(t, suiteTopology)
  const list = createRevocationList({ redis: client, keyPrefix: prefix, now: Date.now, log: testLog(), connectionName: `${prefix}cut` })
  t.teardown(() => list.close())
  await list.start()
  client.disconnect()
  await t.rejects(list.revoke(['cut-off'], Date.now() + HOUR), RevocationNotSharedError)
  t.ok(list.isRevoked('cut-off'), 'in effect here anyway')
  t.notOk(list.healthy, 'and the instance stops trusting its feed')
})
