// Cluster mode on the Redis setups that survive a server: nodes reach
// Redis through a Sentinel (redis.mode sentinel) or a Redis Cluster
// (redis.mode cluster), register, route a message across the nodes and
// leave the registry at a clean stop.
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients } from './helpers/client.js';
import { readyz, TestCluster } from './helpers/cluster.js';
import { stopTestNodes, tempDir } from './helpers/node.js';
import type { TestRedis } from './helpers/redis.js';
import {
  startRedisCluster,
  startSentinel,
  stopTopologies,
  type RedisTopology,
} from './helpers/redis-topologies.js';
import { call } from './helpers/rest.js';

const clusters: TestCluster[] = [];

afterEach(async () => {
  closeClients();
  for (const cluster of clusters.splice(0)) await cluster.destroy();
  await stopTopologies();
  await stopTestNodes();
});

// TestCluster is written around one redis-server, of which it uses only
// what a topology has too: url, running, restart and destroy.
function clusterOn(topology: RedisTopology): TestCluster {
  const cluster = new TestCluster(topology as unknown as TestRedis, tempDir('prim-store-'), {
    PRIM_REDIS_MODE: topology.mode,
    PRIM_REDIS_NODES: topology.nodes.join(','),
    ...(topology.mode === 'sentinel' && { PRIM_REDIS_SENTINEL_NAME: topology.sentinelName }),
  });
  clusters.push(cluster);
  return cluster;
}

async function listedNodes(node: { url: string; adminAuth: string }): Promise<string[]> {
  const state = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
  expect(state.status).toBe(200);
  return state.data.nodes.map((entry: { nodeId: string }) => entry.nodeId);
}

const topologies = [
  { name: 'a Sentinel-watched primary', start: startSentinel },
  { name: 'a Redis Cluster of three primaries', start: startRedisCluster },
];

describe.each(topologies)('on $name', ({ start }) => {
  test('two nodes register, route a message between them and leave at a clean stop', async () => {
    const cluster = clusterOn(await start());
    // One after the other: the first node creates the store's schema.
    const n1 = await cluster.addNode('n1');
    const n2 = await cluster.addNode('n2');

    for (const node of [n1, n2]) {
      expect((await readyz(node)).status, `${node.url}/readyz`).toBe(200);
      expect(await listedNodes(node), `the nodes ${node.url} lists`).toEqual(['n1', 'n2']);
    }

    const acme = await cluster.tenant('acme');
    const alice = await acme.open(n1, 'alice');
    const sent = await acme.post(n2, '/msg/sendMsg', { receiverId: 'alice', message: 'hello' });
    expect(sent).toMatchObject({ status: 200, data: { inboxSeq: 1, delivered: true } });
    const push = await alice.next('msg');
    expect(push.msg).toMatchObject({ id: sent.data.id, receiverId: 'alice', message: 'hello' });

    // n2 finds n1 in the registry and asks it; it lists itself even when
    // it holds nobody, which is not what is checked here.
    const maps = await acme.get(n2, '/user/listUserMaps');
    expect(maps.status).toBe(200);
    expect(maps.data).toEqual({ n1: ['alice'] });

    // At once, not after the record's TTL: the stop itself removed it.
    await n1.stop();
    expect(await listedNodes(n2)).toEqual(['n2']);
  });
});
