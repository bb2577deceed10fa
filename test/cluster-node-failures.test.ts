// A cluster when a node breaks: killed outright, started again under its
// id, hung past the call deadline or while another took its id over.
// Whatever happens, an acknowledged message is never lost.
//
// The nodes that get killed or frozen run `prim serve` from the build in
// dist/ (`npm run build`), since only a real process can be SIGKILLed.
import { afterEach, expect, test } from 'vitest';
import { freePort } from './helpers/cli.js';
import { connect, connectUser, type TestClient, syncAll } from './helpers/client.js';
import {
  eventually,
  liveNodes,
  range,
  startCluster,
  type ClusterTenant,
  type Reachable,
  cleanUpClusterTest,
  caughtUp,
  FAST,
} from './helpers/cluster.js';
import { call } from './helpers/rest.js';

afterEach(cleanUpClusterTest);

// Sends every text at once and resolves with the acks in sent order.
async function pipeline(client: TestClient, receiverId: string, texts: string[]) {
  const base = `p${Math.random().toString(36).slice(2)}-`;
  texts.forEach((message, i) =>
    client.send({ seq: base + i, action: 'msg', msg: { receiverId, message } }),
  );
  return Promise.all(texts.map((_text, i) => client.next((f) => f.seq === base + i, 10_000)));
}

const onlineOn = async (tenant: ClusterTenant, node: Reachable, userId: string) =>
  (await tenant.get(node, '/user/online', { userId, appPlatform: 'all' })).data.online as boolean;

test('a killed node’s users are not shown online, and its traces are gone after the ttl', async () => {
  const cluster = await startCluster(['n1']);
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const bob = await acme.connect(n2, 'bob');
  const connId = bob.welcome.msg.connId as string;
  expect(await onlineOn(acme, n1, 'bob')).toBe(true);
  expect(await cluster.redis.keysMentioning(connId)).not.toEqual([]);

  n2.process.signal('SIGKILL');
  await n2.process.exited;
  const killedAt = Date.now();

  // Nobody removed bob's presence: until the 2 s ttl runs out it stays in
  // Redis. The online routes ask the nodes themselves (gRPC LocalUsers),
  // and a node that does not answer has no users to show.
  expect(await cluster.redis.keysMentioning(connId)).not.toEqual([]);
  expect(await onlineOn(acme, n1, 'bob')).toBe(false);

  await eventually(async () => {
    expect(await onlineOn(acme, n1, 'bob')).toBe(false);
    expect(await liveNodes(n1)).toEqual(['n1']);
    expect(await cluster.redis.keysMentioning(connId)).toEqual([]);
  }, 6000);
  expect(Date.now() - killedAt).toBeLessThan(6000);
});

test('users of a killed node sync on another node all that was acked meanwhile', async () => {
  const cluster = await startCluster(['n1'], { env: FAST });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice');
  const bobToken = await acme.token('bob');
  const bob = await connect(n2.url, bobToken);
  await bob.next('welcome');

  const first = await alice.request('msg', { receiverId: 'bob', message: 'before' });
  expect(first.msg.delivered).toBe(true);
  const seen = (await bob.next('msg')).msg.inboxSeq;
  expect(seen).toBe(1);

  n2.process.signal('SIGKILL');
  await n2.process.exited;
  await bob.closed;

  // Before the ttl runs out: acked, not delivered, kept.
  const started = Date.now();
  const during = await pipeline(
    alice,
    'bob',
    range(1, 5).map((n) => `during ${n}`),
  );
  expect(Date.now() - started).toBeLessThan(3000);
  expect(during.map((ack) => ack.action)).toEqual(Array(5).fill('ack'));
  expect(during.filter((ack) => ack.msg.delivered !== false)).toEqual([]);

  // After it: the same.
  await eventually(async () => expect(await liveNodes(n1)).toEqual(['n1']), 6000);
  const after = await pipeline(
    alice,
    'bob',
    range(1, 3).map((n) => `after ${n}`),
  );
  expect(after.filter((ack) => ack.msg.delivered !== false)).toEqual([]);

  // bob comes back on n1 with the same token and gets exactly what he
  // missed, in order.
  const back = await connectUser(n1.url, bobToken);
  expect(back.welcome.msg.inboxSeq).toBe(9);
  const missed = await syncAll(back.client, seen);
  expect(missed.map((message) => message.id)).toEqual(
    [...during, ...after].map((ack) => ack.msg.id),
  );
  expect(missed.map((message) => message.inboxSeq)).toEqual(range(2, 9));
  expect(missed.map((message) => message.message)).toEqual([
    ...range(1, 5).map((n) => `during ${n}`),
    ...range(1, 3).map((n) => `after ${n}`),
  ]);

  // Now on n1, he is reached again.
  const again = await alice.request('msg', { receiverId: 'bob', message: 'welcome back' });
  expect(again.msg.delivered).toBe(true);
  expect((await back.client.next('msg')).msg.id).toBe(again.msg.id);
});

test('a node started again under the same id clears what its killed incarnation left', async () => {
  // A long ttl: only the new incarnation's clean-up can remove bob in time.
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const bob = await acme.connect(n2, 'bob');
  const connId = bob.welcome.msg.connId as string;
  await acme.open(n1, 'alice');

  n2.process.signal('SIGKILL');
  await n2.process.exited;
  expect(await cluster.redis.keysMentioning(connId)).not.toEqual([]);

  const reborn = await cluster.addNode('n2');
  expect(await cluster.redis.keysMentioning(connId)).toEqual([]);
  expect(await onlineOn(acme, n1, 'bob')).toBe(false);
  expect(await onlineOn(acme, reborn, 'bob')).toBe(false);
  const maps = await acme.get(n1, '/user/listUserMaps');
  expect(Object.values(maps.data).flat()).toEqual(['alice']);
  expect(await liveNodes(n1)).toEqual(['n1', 'n2']);

  // Once n1 lists the new n2 at its new address, n2's users are reached.
  const own = await call(reborn.url, 'GET', '/system/state', { auth: reborn.adminAuth });
  const address = own.data.nodes.find((node: { nodeId: string }) => node.nodeId === 'n2').address;
  await eventually(async () => {
    const state = await call(n1.url, 'GET', '/system/state', { auth: n1.adminAuth });
    expect(state.data.nodes.map((node: { address: string }) => node.address)).toContain(address);
  });
  const bobAgain = await acme.open(reborn, 'bob');
  const ack = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'reborn' });
  expect(ack.data.delivered).toBe(true);
  expect((await bobAgain.next('msg')).msg.id).toBe(ack.data.id);
});

test('a node killed and started again at its address under a new id is reached once', async () => {
  // A long ttl: the killed node's record still names the address.
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const n1 = cluster.nodes[0];
  const grpc = { PRIM_GRPC_PORT: String(await freePort()) };
  const old = await cluster.spawnNode('old', grpc);
  const acme = await cluster.tenant('acme');
  await acme.open(old, 'bob');
  old.process.signal('SIGKILL');
  await old.process.exited;

  const fresh = await cluster.addNode('fresh', grpc);
  const bob = await acme.open(fresh, 'bob');
  await acme.open(n1, 'alice');
  const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'once' });
  expect(sent.data.delivered).toBe(true);
  const all = await acme.post(n1, '/msg/sendMsgAll', { message: 'to all' });
  expect(all.status).toBe(200);

  await caughtUp(bob);
  const got = bob.frames.filter((frame) => frame.action === 'msg' || frame.action === 'broadcast');
  expect(got.map((frame) => frame.msg.message)).toEqual(['once', 'to all']);
  const maps = await acme.get(n1, '/user/listUserMaps');
  expect(maps.data).toEqual({ fresh: ['bob'], n1: ['alice'] });
  expect(await liveNodes(n1)).toEqual(['fresh', 'n1']);
});

test('a peer that does not answer within the call deadline gets delivered:false, kept for sync', async () => {
  // A long ttl keeps bob's presence while n2 is frozen: the deadline, not
  // an expired record, must be what makes the message undelivered.
  const env = { PRIM_GRPC_CALL_TIMEOUT: '300ms', PRIM_CLUSTER_TTL: '20s' };
  const cluster = await startCluster(['n1'], { env });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice');
  const carol = await acme.open(n1, 'carol');
  const bob = await acme.open(n2, 'bob');

  const warm = await alice.request('msg', { receiverId: 'bob', message: 'warm' });
  expect(warm.msg.delivered).toBe(true);
  await bob.next('msg');

  expect(await onlineOn(acme, n1, 'bob')).toBe(true);
  n2.process.signal('SIGSTOP');
  const sentAt = Date.now();
  const frozen = await alice.request('msg', { receiverId: 'bob', message: 'to a frozen peer' });
  const tookMs = Date.now() - sentAt;
  expect(frozen.msg).toMatchObject({ inboxSeq: 2, delivered: false });
  expect(tookMs).toBeGreaterThanOrEqual(250);
  expect(tookMs).toBeLessThan(2000);

  const viaRest = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'rest' });
  expect(viaRest.data).toMatchObject({ delivered: false });
  // Only the first call waited out the deadline: until a probe gets an
  // answer, n1 does not wait on n2 again (5 × 300 ms otherwise).
  const burstAt = Date.now();
  const burst = [];
  for (let i = 0; i < 5; i += 1) {
    burst.push(await alice.request('msg', { receiverId: 'bob', message: `burst ${i}` }));
  }
  expect(Date.now() - burstAt).toBeLessThan(1000);
  expect(burst.map((ack) => ack.msg.delivered)).toEqual(Array(5).fill(false));

  // The frozen peer holds up nobody else.
  const local = await alice.request('msg', { receiverId: 'carol', message: 'local' });
  expect(local.msg.delivered).toBe(true);
  expect((await carol.next('msg')).msg.id).toBe(local.msg.id);

  n2.process.signal('SIGCONT');
  const inbox = await syncAll(bob, 1);
  expect(inbox.map((message) => message.id)).toEqual([
    frozen.msg.id,
    viaRest.data.id,
    ...burst.map((ack) => ack.msg.id),
  ]);
  expect(inbox.slice(0, 2).map((message) => message.message)).toEqual(['to a frozen peer', 'rest']);
  // Back: n2 is reached again once a probe has its answer.
  await eventually(async () => {
    const sent = await alice.request('msg', { receiverId: 'bob', message: 'thawed' });
    expect(sent.msg.delivered).toBe(true);
  }, 3000);
});

test('an exit that could not reach a node closes the user’s session there within seconds', async () => {
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const bob = await acme.open(n2, 'bob');

  n2.process.signal('SIGSTOP');
  try {
    // The message finds n2 not answering: calls to it are skipped until a
    // probe gets an answer, and so is the exit's kick.
    const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'hung' });
    expect(sent.data.delivered).toBe(false);
    const exit = await acme.post(n1, '/sysClient/exit', { userId: 'bob' });
    expect(exit.data).toEqual({ userId: 'bob', platform: 'all', closed: 0 });
  } finally {
    n2.process.signal('SIGCONT');
  }

  // n2 finds the revocation in the store on its next sweep (every 5 s).
  expect((await bob.closed).code).toBe(4503);
  expect(bob.frames.at(-1)).toMatchObject({ action: 'exit', msg: { reason: 'kicked' } });
}, 20_000);

test('a session replaced by a login elsewhere while its node was paused closes when it resumes', async () => {
  const env = { PRIM_GRPC_CALL_TIMEOUT: '500ms' };
  const cluster = await startCluster(['n1'], { env });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const old = await acme.open(n2, 'alice', 'web');

  n2.process.signal('SIGSTOP');
  let newer: TestClient;
  try {
    // A message finds n2 not answering: calls to it are skipped until a
    // probe gets an answer, and so is the new login's kick.
    const lost = await acme.post(n1, '/msg/sendMsg', { receiverId: 'alice', message: 'hung' });
    expect(lost.data.delivered).toBe(false);
    newer = await acme.open(n1, 'alice', 'web');
  } finally {
    n2.process.signal('SIGCONT');
  }

  // n2 finds it was away longer than a call's deadline, and looks.
  expect((await old.closed).code).toBe(4502);
  expect(old.frames.at(-1)).toMatchObject({ msg: { reason: 'replaced by a newer session' } });
  const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'alice', message: 'one' });
  expect(sent.data.delivered).toBe(true);
  expect(
    (await newer.next((frame) => frame.action === 'msg' && frame.msg.message === 'one')).msg.id,
  ).toBe(sent.data.id);
  const maps = await acme.get(n1, '/user/listUserMaps');
  expect(maps.data).toEqual({ n1: ['alice'] });
}, 20_000);

test('a session replaced while its node was given up for dead closes when it is back', async () => {
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '1s' } });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const old = await acme.open(n2, 'alice', 'web');

  n2.process.signal('SIGSTOP');
  try {
    // Once n2's record has expired, n1 takes it for dead and kicks nothing.
    await eventually(async () => expect(await liveNodes(n1)).toEqual(['n1']), 5000);
    await acme.open(n1, 'alice', 'web');
  } finally {
    n2.process.signal('SIGCONT');
  }

  // n2 finds its record gone, registers again and looks for newer logins.
  expect((await old.closed).code).toBe(4502);
  await eventually(async () => {
    expect((await acme.get(n1, '/user/listUserMaps')).data).toEqual({ n1: ['alice'] });
  });
}, 20_000);

test('the channel to a peer that was down a while reconnects at once when it is back', async () => {
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const n1 = cluster.nodes[0];
  const grpc = { PRIM_GRPC_PORT: String(await freePort()) };
  const first = await cluster.spawnNode('n2', grpc);
  const acme = await cluster.tenant('acme');
  const bob = await acme.open(first, 'bob');
  const before = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'one' });
  expect(before.data.delivered).toBe(true);
  expect((await bob.next('msg')).msg.id).toBe(before.data.id);

  first.process.signal('SIGKILL');
  await first.process.exited;
  // Messages to bob meanwhile: each dials n2 in vain, and grpc-js would
  // wait longer and longer (up to 2 minutes) before the next attempt.
  for (let i = 0; i < 12; i += 1) {
    const lost = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: `away ${i}` });
    expect(lost.data.delivered).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const again = await cluster.spawnNode('n2', grpc);
  const bobAgain = await acme.open(again, 'bob');
  // n1 dials the address it dialled before, on the same pooled channel.
  const after = await eventually(async () => {
    const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'back' });
    expect(sent.data.delivered).toBe(true);
    return sent;
  }, 1500);
  expect((await bobAgain.next((f) => f.msg?.id === after.data.id)).msg.message).toBe('back');
});

test('frames that queued behind a hung peer are rate-limited by when they came, not all at once', async () => {
  const env = { PRIM_GRPC_CALL_TIMEOUT: '2s', PRIM_LIMITS_MESSAGES_PER_SECOND: '20' };
  const cluster = await startCluster(['n1'], { env });
  const n1 = cluster.nodes[0];
  const n2 = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice');
  await acme.open(n2, 'bob');

  n2.process.signal('SIGSTOP');
  try {
    // 15 a second, under the limit of 20; the first waits 2 s for n2, and
    // the others wait behind it.
    const acks = [];
    for (let i = 0; i < 30; i += 1) {
      acks.push(alice.request('msg', { receiverId: 'bob', message: `queued ${i}` }));
      await new Promise((resolve) => setTimeout(resolve, 66));
    }
    const replies = await Promise.all(acks);
    expect(replies.filter((reply) => reply.action !== 'ack')).toEqual([]);
  } finally {
    n2.process.signal('SIGCONT');
  }
});

test('a node that hung while another took its nodeId over stops itself when it resumes', async () => {
  // A long ttl: the hung node's record is still there when the new one starts.
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const n1 = cluster.nodes[0];
  const old = await cluster.spawnNode('n2');
  const acme = await cluster.tenant('acme');
  const bob = await acme.open(old, 'bob');

  old.process.signal('SIGSTOP');
  const fresh = await cluster.addNode('n2');
  const address = fresh.context.cluster!.address;
  old.process.signal('SIGCONT');

  // The resumed process finds the record is the new one's, and drains.
  expect((await bob.closed).code).toBe(4000);
  const code = await old.process.exited;
  expect(code).toBe(1);
  expect(old.process.stderr).toContain('another process took nodeId "n2" over');
  // What is now the new process's stays: its record, and its users' presence.
  const carol = await acme.open(fresh, 'carol');
  await eventually(async () => {
    const state = await call(n1.url, 'GET', '/system/state', { auth: n1.adminAuth });
    const n2 = state.data.nodes.find((node: { nodeId: string }) => node.nodeId === 'n2');
    expect(n2?.address).toBe(address);
    const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'carol', message: 'hi' });
    expect(sent.data.delivered).toBe(true);
  });
  await carol.next('msg');
});

test('a hung node stopped before it finds out it was replaced leaves the new one’s record', async () => {
  const cluster = await startCluster(['n1'], { env: { PRIM_CLUSTER_TTL: '30s' } });
  const old = await cluster.spawnNode('n2');
  old.process.signal('SIGSTOP');
  const fresh = await cluster.addNode('n2');

  // SIGTERM is handled first when the process resumes.
  old.process.signal('SIGTERM');
  old.process.signal('SIGCONT');
  await old.process.exited;

  const redis = cluster.redis.client();
  await redis.connect();
  const record = JSON.parse((await redis.get(`${fresh.context.config.redis.prefix}node:n2`))!);
  expect(record.instance).toBe(fresh.context.cluster!.stateReply().instance);
});
