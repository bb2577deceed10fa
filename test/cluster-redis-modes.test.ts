// Cluster mode on the Redis setups that survive a server: nodes reach
// Redis through a Sentinel (redis.mode sentinel) or a Redis Cluster
// (redis.mode cluster), register, route a message across the nodes and
// leave the registry at a clean stop. When a server of the setup is lost,
// the nodes say they are not ready, keep storing and delivering, and are
// whole again once the setup is: a cluster primary back on its port, or a
// replica promoted by the Sentinel.
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients, type TestClient, syncAll } from './helpers/client.js';
import {
  caughtUp,
  eventually,
  liveNodes,
  readyz,
  TestCluster,
  type ClusterTenant,
} from './helpers/cluster.js';
import { stopTestNodes, tempDir } from './helpers/node.js';
import type { TestRedis } from './helpers/redis.js';
import {
  startRedisCluster,
  startSentinel,
  stopTopologies,
  type RedisTopology,
} from './helpers/redis-topologies.js';

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
      expect(await liveNodes(node), `the nodes ${node.url} lists`).toEqual(['n1', 'n2']);
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
    expect(await liveNodes(n2)).toEqual(['n2']);
  });
});

// alice on n1 and bob on n2, and every message acked between them.
class Conversation {
  private readonly acked = new Map<TestClient, string[]>();

  constructor(
    readonly alice: TestClient,
    readonly bob: TestClient,
  ) {}

  // One message each way. With `pushed`, each must be acked as delivered
  // and reach the other session; without, only be acked (stored).
  async exchange(text: string, pushed: boolean): Promise<void> {
    for (const [from, to] of [
      [this.alice, this.bob],
      [this.bob, this.alice],
    ] as const) {
      const receiverId = to === this.bob ? 'bob' : 'alice';
      const reply = await from.request('msg', { receiverId, message: text });
      expect(reply.action, `the reply to "${text}" for ${receiverId}`).toBe('ack');
      this.acked.set(to, [...(this.acked.get(to) ?? []), reply.msg.id]);
      if (!pushed) continue;
      expect(reply.msg.delivered, `"${text}" for ${receiverId} delivered`).toBe(true);
      const push = await to.next(
        (frame) => frame.action === 'msg' && frame.msg.id === reply.msg.id,
      );
      expect(push.msg).toMatchObject({ receiverId, message: text });
    }
  }

  // Every acked message is in its receiver's inbox: pushed or not, a
  // later sync returns it.
  async expectNothingLost(): Promise<void> {
    for (const [client, ids] of this.acked) {
      await caughtUp(client);
      const inbox = new Set((await syncAll(client)).map((message) => message.id as string));
      expect(ids.filter((id) => !inbox.has(id))).toEqual([]);
      expect(ids.length).toBeGreaterThan(0);
    }
  }
}

async function twoNodesChatting(topology: RedisTopology) {
  const cluster = clusterOn(topology);
  const n1 = await cluster.addNode('n1');
  const n2 = await cluster.addNode('n2');
  const acme = await cluster.tenant('acme');
  const chat = new Conversation(await acme.open(n1, 'alice'), await acme.open(n2, 'bob'));
  await expectWhole(acme, [n1, n2]);
  await chat.exchange('before', true);
  return { cluster, nodes: [n1, n2], acme, chat };
}

// Both nodes list both nodes and who is on each: the registry and the
// presence in Redis are complete.
async function expectWhole(acme: ClusterTenant, nodes: Array<{ url: string; adminAuth: string }>) {
  await eventually(async () => {
    for (const node of nodes) {
      expect(await liveNodes(node), `the nodes ${node.url} lists`).toEqual(['n1', 'n2']);
      const maps = await acme.get(node, '/user/listUserMaps');
      expect(maps.data, `${node.url}/user/listUserMaps`).toEqual({ n1: ['alice'], n2: ['bob'] });
    }
  });
}

async function expectNotReady(node: { url: string }): Promise<void> {
  const ready = await readyz(node);
  expect(ready.status, `${node.url}/readyz`).toBe(503);
  expect(ready.body.msg).toMatch(/redis/i);
}

describe('when a server of the setup is lost', () => {
  test('a killed cluster primary: not ready, still delivering, whole once it rejoins', async () => {
    const topology = await startRedisCluster();
    const { cluster, nodes, acme, chat } = await twoNodesChatting(topology);

    // The shard of the registry's index, which every refresh reads: the
    // nodes cannot think Redis is back while it is away. (With every slot
    // required, the whole cluster refuses commands once it is flagged.)
    const victim = await topology.primaryFor(`${cluster.prefix}nodes`);
    await topology.kill(victim);
    for (const node of nodes) await eventually(() => expectNotReady(node), 10_000);

    // Stored and acked, and pushed across nodes to every node known before.
    for (let i = 0; i < 5; i += 1) await chat.exchange(`shard down ${i}`, true);
    for (const node of nodes) await expectNotReady(node);

    await topology.revive(victim);
    await topology.clusterOk();
    const rejoined = Date.now();
    for (const node of nodes) {
      await eventually(async () => expect((await readyz(node)).status).toBe(200), 5000);
    }
    expect(Date.now() - rejoined).toBeLessThan(5000);
    // The revived primary came back empty: the nodes wrote it all again.
    await expectWhole(acme, nodes);
    await chat.exchange('after', true);
    await chat.expectNothingLost();
  }, 30_000);

  test('a Sentinel failover: the replica is promoted, the nodes follow it and are whole', async () => {
    const topology = await startSentinel({
      replicas: 1,
      downAfterMs: 1000,
      failoverTimeoutMs: 3000,
    });
    const [primary] = topology.ports('primary');
    const [replica] = topology.ports('replica');
    const { nodes, acme, chat } = await twoNodesChatting(topology);

    await topology.kill(primary!);
    for (const node of nodes) await eventually(() => expectNotReady(node), 5000);

    // Whether each is pushed depends on how far the failover is; each is
    // stored and acked.
    for (let i = 0; i < 5; i += 1) await chat.exchange(`failing over ${i}`, false);

    await eventually(async () => expect(await topology.primaryBySentinel()).toBe(replica), 15_000);
    for (const node of nodes) {
      await eventually(async () => expect((await readyz(node)).status).toBe(200), 10_000);
    }
    await expectWhole(acme, nodes);
    await chat.exchange('after', true);
    await chat.expectNothingLost();
  }, 30_000);
});
