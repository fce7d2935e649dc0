import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { Cluster, type Redis } from 'ioredis'
import { createRedisClient, type RedisClient } from '../../src/store/redis-client.js'
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../helper.js'

type Topology = Parameters<typeof createRedisClient>[0]

const hostPort = (hp: string) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })

/** The suite's Redis as the app's configuration would name it. */
export const suiteTopology: Topology = TEST_REDIS_CLUSTER_NODES !== undefined
  ? { redisCluster: { nodes: TEST_REDIS_CLUSTER_NODES.split(',').map(hostPort), tls: false } }
  : { redisUrl: TEST_REDIS_URL }

/** A client made and connected as the store plugin does (fail fast, reconnect forever), closed at the end. */
export async function connectedClient (t: Test, topology: Topology): Promise<RedisClient> {
  const client = createRedisClient(topology)!
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await client.connect().catch(() => {}) // a Redis not up yet: the client keeps retrying
  return client
}

export function testLog () {
  const lines: string[] = []
  return {
    lines,
    warn: (_obj: object, msg: string) => { lines.push(`warn ${msg}`) },
    error: (_obj: object, msg: string) => { lines.push(`error ${msg}`) }
  }
}

/** Polls until `condition` holds; the milliseconds it took. */
export async function waitFor (condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now()
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await sleep(5)
  }
  return Date.now() - start
}

/** CLIENT KILL ID for every connection named `name`, on whichever node it is; how many. */
export async function killClientsNamed (admin: Redis | Cluster, name: string): Promise<number> {
  const nodes = admin instanceof Cluster ? admin.nodes('all') : [admin]
  let killed = 0
  for (const node of nodes) {
    const list = String(await node.client('LIST'))
    for (const line of list.split('\n')) {
      const id = / name=(\S*) /.exec(line)?.[1] === name ? /^id=(\d+)/.exec(line)?.[1] : undefined
      if (id !== undefined) killed += Number(await node.client('KILL', 'ID', id))
    }
  }
  return killed
}
