// A cluster when Redis breaks: stopped and started again under traffic,
// hung, or emptied. Readiness goes false meanwhile, messages are still
// stored and crossing nodes, and an acknowledged message is never lost.
//
// Redis here is a redis-server of the test's own (helpers/redis.ts).
import { afterEach, expect, test } from 'vitest';
import type { Redis } from 'ioredis';
import WebSocket from 'ws';
import { type Frame, type TestClient, syncAll } from './helpers/client.js';
import {
  eventually,
  liveNodes,
  range,
  readyz,
  startCluster,
  cleanUpClusterTest,
  caughtUp,
  FAST,
} from './helpers/cluster.js';

afterEach(cleanUpClusterTest);

// One user sending a steady stream to one receiver; every frame sent is
// remembered so that its ack, or its absence, is counted.
class Stream {
  readonly acks: Promise<Frame>[] = [];
  // How many acks arrived so far.
  settled = 0;
  private timer: NodeJS.Timeout | undefined;
  private n = 0;

  constructor(
    readonly from: TestClient,
    readonly sender: string,
    readonly receiverId: string,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => this.sendOne(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sendOne(): void {
    const seq = `s-${this.sender}-${this.receiverId}-${++this.n}`;
    const message = `${this.sender}→${this.receiverId} ${this.n}`;
    this.from.send({ seq, action: 'msg', msg: { receiverId: this.receiverId, message } });
    const ack = this.from.next((frame) => frame.seq === seq, 20_000);
    ack.then(
      () => (this.settled += 1),
      () => undefined, // counted as missing where the acks are checked
    );
    this.acks.push(ack);
  }
}

test('across a Redis restart under traffic every acked message is pushed or synced, exactly once', async () => {
  const cluster = await startCluster(['n1', 'n2'], { env: FAST });
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const sessions = [
    await acme.connect(n1, 'alice'),
    await acme.connect(n1, 'carol'),
    await acme.connect(n2, 'bob'),
    await acme.connect(n2, 'dave'),
  ];
  const [alice, carol, bob, dave] = sessions.map((session) => session.client);
  const connIds = sessions.map((session) => session.welcome.msg.connId as string);
  const streams = [
    new Stream(alice, 'alice', 'bob'), // n1 → n2
    new Stream(alice, 'alice', 'carol'), // n1 → n1
    new Stream(dave, 'dave', 'alice'), // n2 → n1
    new Stream(bob, 'bob', 'dave'), // n2 → n2
  ];
  const clients: Record<string, TestClient> = { alice, bob, carol, dave };
  for (const stream of streams) stream.start(20);
  const settled = () => streams.reduce((sum, stream) => sum + stream.settled, 0);
  await eventually(() => expect(settled()).toBeGreaterThan(20));

  await cluster.redis.stop();
  for (const node of [n1, n2]) {
    await eventually(async () => {
      const ready = await readyz(node);
      expect(ready.status).toBe(503);
      expect(ready.body.data).toEqual({ ready: false });
      expect(ready.body.msg).toMatch(/redis/i);
    });
  }

  // Without Redis the nodes still take and store messages, over REST too.
  // Long enough for a refresh of the registry to fail in between.
  const atOutage = settled();
  await eventually(() => expect(settled()).toBeGreaterThan(atOutage + 150));
  for (const node of [n1, n2]) expect((await readyz(node)).status).toBe(503);
  const rest = await acme.post(n2, '/msg/sendMsg', { receiverId: 'carol', message: 'no redis' });
  expect(rest.status).toBe(200);
  expect(rest.data.inboxSeq).toBeGreaterThan(0);

  await cluster.redis.restart();
  const back = Date.now();
  for (const node of [n1, n2]) {
    await eventually(async () => expect((await readyz(node)).status).toBe(200), 8000);
  }
  await eventually(async () => {
    const maps = await acme.get(n1, '/user/listUserMaps');
    expect(maps.data).toEqual({ n1: ['alice', 'carol'], n2: ['bob', 'dave'] });
    expect(await liveNodes(n2)).toEqual(['n1', 'n2']);
    // The empty Redis holds every session's presence again.
    for (const connId of connIds) {
      expect(await cluster.redis.keysMentioning(connId), connId).not.toEqual([]);
    }
  }, 8000);
  expect(Date.now() - back).toBeLessThan(8000);
  const atReturn = settled();
  await eventually(() => expect(settled()).toBeGreaterThan(atReturn + 20));

  for (const stream of streams) stream.stop();
  // Losing Redis closed no session: a closed one would leave its frames
  // unanswered below.
  for (const [user, client] of Object.entries(clients)) {
    expect(client.socket.readyState, `${user}'s session`).toBe(WebSocket.OPEN);
  }
  const acked = new Map<string, Frame[]>();
  for (const stream of streams) {
    const acks = await Promise.all(stream.acks);
    expect(acks.filter((ack) => ack.action !== 'ack')).toEqual([]);
    // Every receiver stayed online, on a node that answered: each message
    // reached it live, through the outage and the nodes' return.
    expect(acks.filter((ack) => !ack.msg.delivered).map((ack) => ack.msg.id)).toEqual([]);
    acked.set(`${stream.sender}→${stream.receiverId}`, acks);
  }

  // Every session stayed, and for each stream the receiver's inbox holds
  // exactly what was acked, in order; pushes are a subset, none twice.
  for (const client of Object.values(clients)) await caughtUp(client);
  for (const stream of streams) {
    const receiver = clients[stream.receiverId];
    const ackedIds = acked.get(`${stream.sender}→${stream.receiverId}`)!.map((ack) => ack.msg.id);
    const inbox = (await syncAll(receiver)).filter(
      (message) => message.senderInfo.userId === stream.sender,
    );
    const label = `${stream.sender}→${stream.receiverId}`;
    expect(
      inbox.map((message) => message.id),
      label,
    ).toEqual(ackedIds);
    const pushes = receiver.frames
      .filter((frame) => frame.action === 'msg' && frame.msg.senderInfo.userId === stream.sender)
      .map((frame) => frame.msg.id);
    expect(new Set(pushes).size, label).toBe(pushes.length);
    const known = new Set(ackedIds);
    expect(
      pushes.filter((id) => !known.has(id)),
      label,
    ).toEqual([]);
    const seen = new Set([...pushes, ...inbox.map((message) => message.id)]);
    expect(seen.size, label).toBe(ackedIds.length);
  }
  const total = [...acked.values()].reduce((sum, acks) => sum + acks.length, 0);
  expect(total).toBeGreaterThan(100);

  // Cross-node delivery works again.
  const after = await alice.request('msg', { receiverId: 'bob', message: 'redis is back' });
  expect(after.msg.delivered).toBe(true);
  expect((await bob.next((frame) => frame.msg?.id === after.msg.id)).action).toBe('msg');
}, 60_000);

test('a Redis restarted empty: users of a node that has not published again still get pushes', async () => {
  const cluster = await startCluster(['n1']);
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const bob = await acme.open(n2, 'bob');

  // n2 is held while Redis comes back empty, so that it publishes its
  // sessions again only after n1 is back.
  n2.process.signal('SIGSTOP');
  try {
    await cluster.redis.stop();
    await cluster.redis.restart();
    await eventually(async () => expect((await readyz(n1)).status).toBe(200), 8000);
  } finally {
    n2.process.signal('SIGCONT');
  }

  const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'meanwhile' });
  expect(sent.data.delivered).toBe(true);
  expect((await bob.next('msg')).msg.id).toBe(sent.data.id);
}, 30_000);

test('a Redis that hangs holds up no message: not ready, pushed across nodes, back when it answers', async () => {
  const cluster = await startCluster(['n1', 'n2'], { env: FAST });
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice');
  const bob = await acme.open(n2, 'bob');
  expect((await acme.get(n1, '/user/listUserMaps')).data).toMatchObject({ n2: ['bob'] });

  // Frozen, not gone: connections stay open and every command waits.
  process.kill(cluster.redis.pid!, 'SIGSTOP');
  try {
    const first = await alice.request('msg', { receiverId: 'bob', message: 'hang 0' });
    expect(first.action).toBe('ack');
    for (const node of [n1, n2]) {
      await eventually(async () => expect((await readyz(node)).status).toBe(503), 3000);
    }
    // Once a node has met the hang it routes without Redis: each of these
    // would otherwise wait out the 1 s command timeout (10 s together).
    const began = Date.now();
    const acks = [];
    for (let i = 1; i <= 10; i += 1) {
      acks.push(await alice.request('msg', { receiverId: 'bob', message: `hang ${i}` }));
    }
    expect(Date.now() - began).toBeLessThan(5000);
    // Without presence n1 asks every node it knew, and n2 reaches bob.
    expect(acks.map((ack) => ack.msg.delivered)).toEqual(Array(10).fill(true));
  } finally {
    process.kill(cluster.redis.pid!, 'SIGCONT');
  }

  for (const node of [n1, n2]) {
    await eventually(async () => expect((await readyz(node)).status).toBe(200), 5000);
  }
  const after = await alice.request('msg', { receiverId: 'bob', message: 'after' });
  expect(after.msg.delivered).toBe(true);
  await caughtUp(bob);
  const pushed = bob.frames.filter((frame) => frame.action === 'msg').map((f) => f.msg.message);
  expect(pushed).toEqual([...range(0, 10).map((i) => `hang ${i}`), 'after']);
  expect((await acme.get(n1, '/user/listUserMaps')).data).toMatchObject({ n2: ['bob'] });
});

// What a Redis can lose without a restart: everything (FLUSHALL, a
// failover to an empty replica), or one node's id from the node list (a
// prune that read the node's record just before it was written again).
const losses: Array<[string, (redis: Redis, prefix: string) => Promise<unknown>]> = [
  ['loses its data (FLUSHALL)', (redis) => redis.flushall()],
  ['loses a node’s id from the node list', (redis, prefix) => redis.srem(`${prefix}nodes`, 'n2')],
];

test.each(losses)(
  'a Redis that %s holds the nodes and sessions again within seconds',
  async (_what, lose) => {
    // A long ttl: the periodic refresh (every 10 s) is not what brings it back.
    const cluster = await startCluster(['n1', 'n2'], { env: { PRIM_CLUSTER_TTL: '30s' } });
    const [n1, n2] = cluster.nodes;
    const acme = await cluster.tenant('acme');
    const bob = await acme.open(n2, 'bob');

    const redis = cluster.redis.client();
    await redis.connect();
    await lose(redis, n2.context.config.redis.prefix);
    const lostAt = Date.now();
    await eventually(async () => {
      expect(await liveNodes(n1)).toEqual(['n1', 'n2']);
      expect((await acme.get(n1, '/user/listUserMaps')).data).toEqual({ n2: ['bob'] });
      const sent = await acme.post(n1, '/msg/sendMsg', {
        receiverId: 'bob',
        message: 'still here',
      });
      expect(sent.data.delivered).toBe(true);
    }, 5000);
    expect(Date.now() - lostAt).toBeLessThan(5000);
    await bob.next((frame) => frame.msg?.message === 'still here');
  },
);
