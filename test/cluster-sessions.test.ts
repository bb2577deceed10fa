// Sessions and presence across the nodes of a cluster: the session policy
// and kicks reach every node, presence and node state answer for the whole
// cluster, a clean stop leaves nothing behind, tenants stay apart, and
// every Redis key is under the configured prefix.
import { afterEach, expect, test } from 'vitest';
import { connect, type TestClient } from './helpers/client.js';
import {
  eventually,
  range,
  startCluster,
  type ClusterTenant,
  cleanUpClusterTest,
  caughtUp,
} from './helpers/cluster.js';
import { type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(cleanUpClusterTest);

// listUserMaps as one node answers it; nodes holding none of the tenant's
// users are not listed.
async function userMaps(tenant: { get: ClusterTenant['get'] }, node: TestNode) {
  const maps = await tenant.get(node, '/user/listUserMaps');
  expect(maps.status).toBe(200);
  return maps.data as Record<string, string[]>;
}

const adminState = async (node: TestNode) => {
  const state = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
  expect(state.status).toBe(200);
  return state.data;
};

test('a new session of the same user and platform on another node replaces the old with 4502', async () => {
  const cluster = await startCluster(['n1', 'n2', 'n3']);
  const [n1, n2, n3] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const old = await acme.connect(n1, 'alice', 'web');
  const ios = await acme.open(n3, 'alice', 'ios');

  const newer = await acme.connect(n2, 'alice', 'web');
  expect(newer.welcome.msg.connId).not.toBe(old.welcome.msg.connId);
  expect((await old.client.closed).code).toBe(4502);
  expect(old.client.frames.at(-1)).toEqual({
    seq: '',
    action: 'exit',
    msg: { reason: 'replaced by a newer session' },
  });

  // The other platform stays; the newer session and it get the pushes.
  const bob = await acme.open(n1, 'bob');
  const ack = await bob.request('msg', { receiverId: 'alice', message: 'which one?' });
  expect(ack.msg.delivered).toBe(true);
  expect((await newer.client.next('msg')).msg.id).toBe(ack.msg.id);
  expect((await ios.next('msg')).msg.id).toBe(ack.msg.id);
  expect(old.client.frames.filter((frame) => frame.action === 'msg')).toEqual([]);

  const online = await acme.get(n1, '/user/online', { userId: 'alice', appPlatform: 'all' });
  expect(online.data).toEqual({ userId: 'alice', online: true, platforms: ['ios', 'web'] });
  await eventually(async () => {
    expect(await userMaps(acme, n3)).toEqual({ n1: ['bob'], n2: ['alice'], n3: ['alice'] });
    expect(await cluster.redis.keysMentioning(old.welcome.msg.connId)).toEqual([]);
  });
});

test('two logins of one user and platform at once on two nodes leave exactly one session', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  for (let round = 0; round < 5; round += 1) {
    const userId = `racer${round}`;
    const tokens = [await acme.token(userId, 'web'), await acme.token(userId, 'web')];
    const clients = await Promise.all([connect(n1.url, tokens[0]), connect(n2.url, tokens[1])]);

    const first = await Promise.race(
      clients.map((client, at) => client.closed.then((closed) => ({ at, closed }))),
    );
    expect(first.closed.code, `round ${round}`).toBe(4502);
    const survivor = clients[1 - first.at];
    await survivor.next('welcome');
    expect((await survivor.request('ping')).msg).toEqual({ result: 'pong' });
    const online = await acme.get(n1, '/user/online', { userId, appPlatform: 'all' });
    expect(online.data).toEqual({ userId, online: true, platforms: ['web'] });
    const maps = await userMaps(acme, n2);
    expect(
      Object.values(maps)
        .flat()
        .filter((user) => user === userId),
    ).toEqual([userId]);
  }
});

test('sysClient/exit on any node closes the user’s sessions on every node with 4503', async () => {
  const cluster = await startCluster(['n1', 'n2', 'n3']);
  const [n1, n2, n3] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const webToken = await acme.token('alice', 'web');
  const web = await connect(n1.url, webToken);
  await web.next('welcome');
  const ios = await acme.open(n2, 'alice', 'ios');
  const bob = await acme.open(n1, 'bob');

  const exit = await acme.post(n3, '/sysClient/exit', { userId: 'alice' });
  expect(exit.status).toBe(200);
  expect(exit.data).toEqual({ userId: 'alice', platform: 'all', closed: 2 });
  expect((await web.closed).code).toBe(4503);
  expect((await ios.closed).code).toBe(4503);
  expect(ios.frames.at(-1)).toMatchObject({ action: 'exit', msg: { reason: 'kicked' } });
  await caughtUp(bob);

  // The token is revoked on every node, not only where the kick began.
  const again = await connect(n2.url, webToken).catch((err) => err);
  expect(again).toMatchObject({ status: 401, body: { code: 1016 } });

  const online = await acme.get(n1, '/user/online', { userId: 'alice', appPlatform: 'all' });
  expect(online.data).toEqual({ userId: 'alice', online: false, platforms: [] });
});

test('sysClient/exit with a platform closes only that platform’s session, wherever it is', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const web = await acme.open(n1, 'alice', 'web');
  const ios = await acme.open(n2, 'alice', 'ios');

  const exit = await acme.post(n1, '/sysClient/exit', { userId: 'alice', appPlatform: 'ios' });
  expect(exit.data).toEqual({ userId: 'alice', platform: 'ios', closed: 1 });
  expect((await ios.closed).code).toBe(4503);
  await caughtUp(web);
  expect(web.frames).toEqual([]);
});

test('the online users, their platforms and their nodes are the same from every node', async () => {
  const cluster = await startCluster(['n1', 'n2', 'n3']);
  const acme = await cluster.tenant('acme');
  const [n1, n2, n3] = cluster.nodes;
  await acme.open(n1, 'alice', 'web');
  await acme.open(n1, 'alice', 'ios');
  await acme.open(n2, 'bob', 'android');
  await acme.open(n3, 'carol', 'web');
  await acme.open(n3, 'alice', 'desktop');

  for (const node of cluster.nodes) {
    const list = await acme.get(node, '/user/list');
    expect(list.data, node.context.nodeId).toEqual({
      list: [
        { userId: 'alice', platforms: ['desktop', 'ios', 'web'] },
        { userId: 'bob', platforms: ['android'] },
        { userId: 'carol', platforms: ['web'] },
      ],
      total: 3,
      page: 1,
      pageSize: 100,
    });
    const maps = await acme.get(node, '/user/listUserMaps');
    expect(maps.data).toEqual({ n1: ['alice'], n2: ['bob'], n3: ['alice', 'carol'] });
    const bob = await acme.get(node, '/user/online', { userId: 'bob', appPlatform: 'all' });
    expect(bob.data).toEqual({ userId: 'bob', online: true, platforms: ['android'] });
    const aliceIos = await acme.get(node, '/user/online', { userId: 'alice', appPlatform: 'ios' });
    expect(aliceIos.data).toEqual({ userId: 'alice', online: true, platforms: ['ios'] });
  }
  const page = await acme.get(n2, '/user/list', { page: 2, pageSize: 2 });
  expect(page.data).toEqual({
    list: [{ userId: 'carol', platforms: ['web'] }],
    total: 3,
    page: 2,
    pageSize: 2,
  });
});

test('a node’s users are listed from every node even when they fill more than a frame', async () => {
  // The smallest frame limit, so that a few hundred users of the longest
  // ids (128 characters) are more than a message between nodes may hold.
  const cluster = await startCluster(['n1', 'n2'], {
    env: { PRIM_LIMITS_MAX_FRAME_BYTES: '1024' },
  });
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const users = range(0, 600).map((i) => `${String(i).padStart(4, '0')}${'u'.repeat(124)}`);
  for (let from = 0; from < users.length; from += 50) {
    await Promise.all(users.slice(from, from + 50).map((userId) => acme.open(n2, userId)));
  }

  const maps = await userMaps(acme, n1);
  expect(maps.n2?.length).toBe(users.length);
  const state = await acme.get(n1, '/system/state');
  expect(state.data).toMatchObject({ users: users.length, sessions: users.length });
}, 60_000);

test('a session that closes leaves the presence of every node at once, not after the ttl', async () => {
  // A long ttl: only the disconnect itself can make bob offline in time.
  const cluster = await startCluster(['n1', 'n2'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const { client: bob, welcome } = await acme.connect(n2, 'bob');
  const before = await acme.get(n1, '/user/online', { userId: 'bob', appPlatform: 'all' });
  expect(before.data.online).toBe(true);
  expect(await cluster.redis.keysMentioning(welcome.msg.connId)).not.toEqual([]);

  bob.close();
  await bob.closed;
  await eventually(async () => {
    expect(await cluster.redis.keysMentioning(welcome.msg.connId)).toEqual([]);
    const after = await acme.get(n1, '/user/online', { userId: 'bob', appPlatform: 'all' });
    expect(after.data).toEqual({ userId: 'bob', online: false, platforms: [] });
    expect(await userMaps(acme, n1)).toEqual({});
  }, 1500);
});

test('system/state as admin lists every live node sorted by nodeId, with its own fields', async () => {
  const cluster = await startCluster(['n3', 'n1', 'n2']);
  const acme = await cluster.tenant('acme');
  const [n3, n1, n2] = cluster.nodes;
  await acme.open(n1, 'alice');
  await acme.open(n1, 'bob');
  await acme.open(n2, 'carol');

  const state = await eventually(async () => {
    const data = await adminState(n2);
    expect(data.nodes.map((node: { connections: number }) => node.connections)).toEqual([2, 1, 0]);
    return data;
  });
  expect(state).toMatchObject({
    nodeId: 'n2',
    state: 'ready',
    connections: 1,
    cluster: true,
    store: 'sqlite',
    version: expect.any(String),
  });
  expect(state.nodes).toEqual(
    [n1, n2, n3].map((node, i) =>
      expect.objectContaining({
        nodeId: `n${i + 1}`,
        address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        http: node.url.replace('http://', ''),
        state: 'ready',
        startedAt: node.context.startedAt,
        uptimeMs: expect.any(Number),
        connections: [2, 1, 0][i],
        version: state.version,
      }),
    ),
  );
  const ports = state.nodes.map((node: { address: string }) => Number(node.address.split(':')[1]));
  expect(ports.every((port: number) => port > 0)).toBe(true);
  expect(new Set(ports).size).toBe(3);
  for (const node of state.nodes) expect(node.uptimeMs).toBeGreaterThanOrEqual(0);

  // Every node sees the same cluster.
  const fromN3 = await adminState(n3);
  expect(fromN3.nodeId).toBe('n3');
  expect(fromN3.connections).toBe(0);
  expect(fromN3.nodes.map((node: { nodeId: string }) => node.nodeId)).toEqual(['n1', 'n2', 'n3']);
  expect(fromN3.nodes.map((node: { address: string }) => node.address)).toEqual(
    state.nodes.map((node: { address: string }) => node.address),
  );
});

test('system/state as a tenant counts its users and sessions over the whole cluster', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const globex = await cluster.tenant('globex');
  await acme.open(n1, 'alice', 'web');
  await acme.open(n2, 'alice', 'ios');
  await acme.open(n2, 'bob');
  await globex.open(n1, 'alice');

  for (const node of cluster.nodes) {
    const own = await acme.get(node, '/system/state');
    expect(own).toEqual({
      status: 200,
      code: 200,
      msg: 'ok',
      data: { account: 'acme', users: 2, sessions: 3 },
    });
    expect((await globex.get(node, '/system/state')).data).toEqual({
      account: 'globex',
      users: 1,
      sessions: 1,
    });
  }
});

test('a clean stop removes the node’s record and its presence at once', async () => {
  // A long ttl: only the stop itself can remove them in time.
  const cluster = await startCluster(['n1', 'n2', 'n3'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  await acme.open(n1, 'alice');
  const { client: bob, welcome } = await acme.connect(n2, 'bob');
  const before = await adminState(n1);
  expect(before.nodes.map((node: { nodeId: string }) => node.nodeId)).toEqual(['n1', 'n2', 'n3']);
  const address = before.nodes[1].address as string;
  expect(await cluster.redis.keysMentioning(address)).not.toEqual([]);
  expect(await cluster.redis.keysMentioning(welcome.msg.connId)).not.toEqual([]);

  await n2.stop();
  expect((await bob.closed).code).toBe(4000);

  // No waiting: the stopped node's record and sessions are gone from Redis
  // when stop resolves.
  expect(await cluster.redis.keysMentioning(address)).toEqual([]);
  expect(await cluster.redis.keysMentioning(welcome.msg.connId)).toEqual([]);
  const after = await adminState(n1);
  expect(after.nodes.map((node: { nodeId: string }) => node.nodeId)).toEqual(['n1', 'n3']);
  const maps = await acme.get(n1, '/user/listUserMaps');
  expect(Object.keys(maps.data)).not.toContain('n2');
  expect(await userMaps(acme, n1)).toEqual({ n1: ['alice'] });
  const online = await acme.get(n1, '/user/online', { userId: 'bob', appPlatform: 'all' });
  expect(online.data.online).toBe(false);

  // A message for bob is stored for him rather than sent to the gone node.
  const alice = await acme.open(n1, 'alice', 'ios');
  const ack = await alice.request('msg', { receiverId: 'bob', message: 'after the stop' });
  expect(ack.msg).toMatchObject({ delivered: false });
});

test('the same user id in two tenants on two nodes never sees the other’s traffic', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const globex = await cluster.tenant('globex');
  const acmeBob = await acme.open(n1, 'bob', 'web');
  const globexBob = await globex.open(n2, 'bob', 'ios');
  const acmeAlice = await acme.open(n2, 'alice');
  const globexCarol = await globex.open(n1, 'carol');

  const ack = await acmeAlice.request('msg', { receiverId: 'bob', message: 'for acme bob' });
  expect(ack.msg.delivered).toBe(true);
  expect((await acmeBob.next('msg')).msg.message).toBe('for acme bob');
  const broadcast = await acme.post(n1, '/msg/sendMsgAll', { message: 'acme only' });
  expect(broadcast.data.sessions).toBe(2);
  await acmeBob.next('broadcast');

  // Anything for globex's bob would arrive before this later message.
  await globexCarol.request('msg', { receiverId: 'bob', message: 'for globex bob' });
  expect((await globexBob.next('msg')).msg).toMatchObject({
    message: 'for globex bob',
    inboxSeq: 1,
  });
  await caughtUp(globexBob);
  expect(globexBob.frames).toEqual([]);

  // Presence: each tenant sees its own bob only.
  const acmeOnline = await acme.get(n2, '/user/online', { userId: 'bob', appPlatform: 'all' });
  expect(acmeOnline.data.platforms).toEqual(['web']);
  const globexOnline = await globex.get(n1, '/user/online', { userId: 'bob', appPlatform: 'all' });
  expect(globexOnline.data.platforms).toEqual(['ios']);
  expect(await userMaps(acme, n1)).toEqual({ n1: ['bob'], n2: ['alice'] });
  expect(await userMaps(globex, n2)).toEqual({ n1: ['carol'], n2: ['bob'] });

  // A user online only in globex is offline for acme.
  const toCarol = await acmeAlice.request('msg', { receiverId: 'carol', message: 'nobody' });
  expect(toCarol.msg.delivered).toBe(false);
  await caughtUp(globexCarol);
  expect(globexCarol.frames).toEqual([]);

  // A kick in one tenant leaves the other's bob online.
  await acme.post(n2, '/sysClient/exit', { userId: 'bob' });
  expect((await acmeBob.closed).code).toBe(4503);
  expect((await globexBob.request('ping')).action).toBe('ok');
});

test('user ids with separators never share presence with another user or platform', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const ids = ['bob', 'bob:web', 'bob:web:n1', 'bob web', 'bob/ios', 'böb*', 'bob\\'];
  const clients = new Map<string, TestClient>();
  for (const [i, userId] of ids.entries()) {
    const node = i % 2 === 0 ? n1 : n2;
    clients.set(userId, await acme.open(node, userId, i === 1 ? 'ios' : 'web'));
  }

  const list = await acme.get(n2, '/user/list');
  expect(list.data.list).toEqual(
    [...ids]
      .sort()
      .map((userId) => ({ userId, platforms: [userId === 'bob:web' ? 'ios' : 'web'] })),
  );

  // Each id is its own user: a message reaches that one and no other.
  const alice = await acme.open(n1, 'alice');
  for (const userId of ids) {
    const ack = await alice.request('msg', { receiverId: userId, message: `for ${userId}` });
    expect(ack.msg.delivered).toBe(true);
    expect((await clients.get(userId)!.next('msg')).msg.receiverId).toBe(userId);
  }
  for (const client of clients.values()) {
    await caughtUp(client);
    expect(client.frames).toEqual([]);
  }

  // Closing 'bob' leaves 'bob:web' (and the others) online.
  clients.get('bob')!.close();
  await clients.get('bob')!.closed;
  await eventually(async () => {
    const after = await acme.get(n2, '/user/list');
    expect(after.data.total).toBe(ids.length);
    expect(after.data.list.map((user: { userId: string }) => user.userId)).not.toContain('bob');
  });
});

test('every key prim writes to Redis starts with the configured prefix', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  expect(cluster.prefix).not.toBe('prim:');
  const acme = await cluster.tenant('acme');
  const globex = await cluster.tenant('globex');
  const alice = await acme.open(n1, 'alice');
  await acme.open(n2, 'bob');
  await acme.open(n2, 'bob:web', 'ios');
  await globex.open(n1, 'bob');
  await alice.request('msg', { receiverId: 'bob', message: 'hi' });
  await acme.post(n2, '/msg/sendMsgAll', { message: 'all' });
  await acme.open(n1, 'bob');
  await acme.post(n1, '/sysClient/exit', { userId: 'bob' });
  await acme.get(n2, '/user/list');
  await acme.get(n1, '/user/listUserMaps');
  await call(n1.url, 'GET', '/system/state', { auth: n1.adminAuth });

  const keys = await cluster.redis.allKeys();
  // Registry and presence exist, so an unprefixed key would be seen.
  expect(keys.length).toBeGreaterThanOrEqual(2);
  expect(keys.filter(({ key }) => !key.startsWith(cluster.prefix))).toEqual([]);
});
