// Messages across the nodes of a cluster: a session on one node reaches
// the receiver's sessions on the others, the sender's other devices too,
// in order, and a broadcast reaches every node but no other tenant.
import { afterEach, expect, test } from 'vitest';
import { type Frame, type TestClient, syncAll } from './helpers/client.js';
import { range, startCluster, cleanUpClusterTest, caughtUp, FAST } from './helpers/cluster.js';

afterEach(cleanUpClusterTest);

const pushed = (client: TestClient) => client.frames.filter((frame) => frame.action === 'msg');

test('a message from a session on one node reaches the receiver on another, acked delivered', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice', 'web', { nickname: 'Alice', avatar: 'https://a/1' });
  const bob = await acme.open(n2, 'bob');

  const ack = await alice.request('msg', { receiverId: 'bob', message: 'across', msgType: 3 });
  expect(ack.action).toBe('ack');
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: true });

  const push = await bob.next('msg');
  expect(push).toEqual({
    seq: ack.msg.id,
    action: 'msg',
    msg: {
      id: ack.msg.id,
      inboxSeq: 1,
      senderInfo: { userId: 'alice', nickname: 'Alice', avatar: 'https://a/1' },
      receiverId: 'bob',
      message: 'across',
      msgType: 3,
      msgContType: 1,
      time: ack.msg.time,
      dateTime: new Date(ack.msg.time).toISOString(),
    },
  });

  // And back the other way.
  const reply = await bob.request('msg', { receiverId: 'alice', message: 'back' });
  expect(reply.msg).toMatchObject({ inboxSeq: 2, delivered: true });
  expect((await alice.next('msg')).msg).toMatchObject({ id: reply.msg.id, inboxSeq: 2 });
});

test("a message reaches the receiver's sessions on every node and the sender's other ones", async () => {
  const cluster = await startCluster(['n1', 'n2', 'n3']);
  const [n1, n2, n3] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const aliceWeb = await acme.open(n1, 'alice', 'web');
  const aliceIos = await acme.open(n2, 'alice', 'ios');
  const bobWeb = await acme.open(n2, 'bob', 'web');
  const bobAndroid = await acme.open(n3, 'bob', 'android');
  const carol = await acme.open(n3, 'carol', 'desktop');

  // bob's inbox is longer than alice's, so the two numberings differ.
  await carol.request('msg', { receiverId: 'bob', message: 'c1' });
  await carol.request('msg', { receiverId: 'bob', message: 'c2' });
  for (const bob of [bobWeb, bobAndroid]) {
    expect([(await bob.next('msg')).msg.inboxSeq, (await bob.next('msg')).msg.inboxSeq]).toEqual([
      1, 2,
    ]);
  }

  const ack = await aliceWeb.request('msg', { receiverId: 'bob', message: 'to all of bob' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: true });
  for (const bob of [bobWeb, bobAndroid]) {
    expect((await bob.next('msg')).msg).toMatchObject({
      id: ack.msg.id,
      inboxSeq: 3,
      message: 'to all of bob',
      senderInfo: { userId: 'alice' },
    });
  }
  // alice's phone on n2 sees what she sent from the web on n1, numbered in
  // her own inbox; the sending connection gets the ack only.
  expect((await aliceIos.next('msg')).msg).toMatchObject({
    id: ack.msg.id,
    inboxSeq: 1,
    receiverId: 'bob',
  });
  await caughtUp(aliceWeb);
  expect(pushed(aliceWeb)).toEqual([]);

  // Each session got the message exactly once.
  for (const client of [bobWeb, bobAndroid, aliceIos, carol]) await caughtUp(client);
  for (const client of [bobWeb, bobAndroid, aliceIos]) expect(pushed(client)).toEqual([]);
});

test("a push to the sender's device on another node alone is not delivery to the receiver", async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const aliceWeb = await acme.open(n1, 'alice', 'web');
  const aliceIos = await acme.open(n2, 'alice', 'ios');

  // bob is offline: the only push is to alice's phone, which is no
  // delivery to bob.
  const ack = await aliceWeb.request('msg', { receiverId: 'bob', message: 'to offline bob' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: false });
  expect((await aliceIos.next('msg')).msg).toMatchObject({ id: ack.msg.id, inboxSeq: 1 });
});

test('REST sendMsg on a node that holds none of the receiver’s sessions delivers to them', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const bob = await acme.open(n2, 'bob');

  const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'from backend' });
  expect(sent.status).toBe(200);
  expect(sent.data).toMatchObject({ inboxSeq: 1, delivered: true });
  expect((await bob.next('msg')).msg).toMatchObject({
    id: sent.data.id,
    message: 'from backend',
    senderInfo: { userId: 'system' },
  });

  // With a user's token as the credential the sender is that user.
  const carolToken = await acme.token('carol');
  const asCarol = await fetch(`${n1.url}/msg/sendMsg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${carolToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiverId: 'bob', message: 'from carol' }),
  });
  const carolAck = (await asCarol.json()) as { data: { id: string; delivered: boolean } };
  expect(carolAck.data.delivered).toBe(true);
  expect((await bob.next('msg')).msg).toMatchObject({
    id: carolAck.data.id,
    inboxSeq: 2,
    senderInfo: { userId: 'carol' },
  });
});

test('a message sent right after the welcome reaches a session on another node', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');

  for (const n of range(1, 10)) {
    const { client, welcome } = await acme.connect(n2, `u${n}`);
    expect(welcome.msg.inboxSeq).toBe(0);
    const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: `u${n}`, message: `hi ${n}` });
    expect(sent.data, `u${n}`).toMatchObject({ delivered: true });
    expect((await client.next('msg')).msg).toMatchObject({ id: sent.data.id, message: `hi ${n}` });
  }
});

test('200 pipelined messages cross nodes in the order they were sent', async () => {
  const cluster = await startCluster(['n1', 'n2'], { env: FAST });
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice');
  const bob = await acme.open(n2, 'bob');
  const texts = range(0, 199).map((n) => `m${n}`);

  texts.forEach((message, i) =>
    alice.send({ seq: `p${i}`, action: 'msg', msg: { receiverId: 'bob', message } }),
  );
  const acks = await Promise.all(texts.map((_text, i) => alice.next((f) => f.seq === `p${i}`)));
  expect(acks.map((ack) => ack.msg.inboxSeq)).toEqual(range(1, 200));
  expect(acks.filter((ack) => ack.msg.delivered !== true)).toEqual([]);

  const pushes: Frame[] = [];
  for (let i = 0; i < 200; i += 1) pushes.push(await bob.next('msg'));
  expect(pushes.map((push) => push.msg.message)).toEqual(texts);
  expect(pushes.map((push) => push.msg.id)).toEqual(acks.map((ack) => ack.msg.id));
  expect(pushes.map((push) => push.msg.inboxSeq)).toEqual(range(1, 200));
});

test('a message to a user offline on every node is acked undelivered and synced on any node', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const alice = await acme.open(n1, 'alice');

  const ack = await alice.request('msg', { receiverId: 'bob', message: 'while away' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: false });

  const bob = await acme.connect(n2, 'bob');
  expect(bob.welcome.msg.inboxSeq).toBe(1);
  expect(await syncAll(bob.client)).toEqual([
    expect.objectContaining({ id: ack.msg.id, inboxSeq: 1, message: 'while away' }),
  ]);
});

test('sendMsgAll on one node reaches every session of the tenant on every node, no other tenant', async () => {
  const cluster = await startCluster(['n1', 'n2', 'n3']);
  const [n1, n2, n3] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const globex = await cluster.tenant('globex');
  const receivers = [
    await acme.open(n1, 'alice', 'web'),
    await acme.open(n2, 'alice', 'ios'),
    await acme.open(n2, 'bob'),
    await acme.open(n3, 'carol'),
  ];
  const outsiders = [await globex.open(n1, 'bob'), await globex.open(n3, 'alice')];
  const before = Date.now();

  const sent = await acme.post(n2, '/msg/sendMsgAll', { message: 'maintenance', msgType: 9 });
  expect(sent).toMatchObject({ status: 200, code: 200 });
  expect(sent.data).toEqual({ sessions: 4 });
  for (const client of receivers) {
    const frame = await client.next('broadcast');
    expect(frame).toEqual({
      seq: '',
      action: 'broadcast',
      msg: {
        senderInfo: { userId: 'system', nickname: '', avatar: '' },
        message: 'maintenance',
        msgType: 9,
        msgContType: 1,
        time: expect.any(Number),
        dateTime: new Date(frame.msg.time).toISOString(),
      },
    });
    expect(frame.msg.time).toBeGreaterThanOrEqual(before);
  }

  // Had the broadcast reached globex's sessions, it would be in their
  // frames before this later message from their own tenant.
  const marker = await globex.post(n2, '/msg/sendMsg', { receiverId: 'bob', message: 'marker' });
  expect(marker.data.delivered).toBe(true);
  await outsiders[0].next('msg');
  for (const client of outsiders) {
    await caughtUp(client);
    expect(client.frames.filter((frame) => frame.action === 'broadcast')).toEqual([]);
  }
  // And nobody got it twice.
  for (const client of receivers) {
    await caughtUp(client);
    expect(client.frames.filter((frame) => frame.action === 'broadcast')).toEqual([]);
  }
});

test('a node that has just joined is reached at once: presence, broadcasts, messages', async () => {
  const cluster = await startCluster(['n1']);
  const n1 = cluster.nodes[0];
  const acme = await cluster.tenant('acme');

  // Each new node is used the moment its user is welcomed, before a
  // periodic refresh of n1 could have noticed it.
  for (const nodeId of ['n2', 'n3', 'n4']) {
    const node = await cluster.addNode(nodeId);
    const user = `on-${nodeId}`;
    const client = await acme.open(node, user);

    const online = await acme.get(n1, '/user/online', { userId: user, appPlatform: 'all' });
    expect(online.data, `online ${user}`).toMatchObject({ online: true });

    const all = await acme.post(n1, '/msg/sendMsgAll', { message: `hello ${nodeId}` });
    expect(all.data, `sendMsgAll with ${nodeId} up`).toEqual({
      sessions: cluster.nodes.length - 1,
    });
    expect((await client.next('broadcast')).msg.message).toBe(`hello ${nodeId}`);

    const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: user, message: 'hi' });
    expect(sent.data, `sendMsg to ${user}`).toMatchObject({ delivered: true });
    expect((await client.next('msg')).msg.id).toBe(sent.data.id);
  }
});

test('a message that JSON grows sixfold still crosses nodes', async () => {
  const cluster = await startCluster(['n1', 'n2']);
  const [n1, n2] = cluster.nodes;
  const acme = await cluster.tenant('acme');
  const bob = await acme.open(n2, 'bob');
  // A form body carries control characters raw; JSON writes each as \u0001.
  const message = '\x01'.repeat(60_000);
  const response = await fetch(`${n1.url}/msg/sendMsg`, {
    method: 'POST',
    headers: { authorization: acme.auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: `receiverId=bob&message=${message}`,
  });
  const sent = await response.json();
  expect(sent.data.delivered).toBe(true);
  expect((await bob.next('msg')).msg.message).toBe(message);
});
