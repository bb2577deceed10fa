// Messages over /acc: stored before the ack, numbered per inbox without
// gaps, delivered in order, synced after the fact, and kept per tenant.
import { rmSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import { createLogger } from '../src/log.js';
import { startNode } from '../src/server/node.js';
import {
  closeClients,
  connectUser,
  type Frame,
  type TestClient,
  syncAll,
} from './helpers/client.js';
import {
  startTestNode,
  stopTestNodes,
  tempDir,
  testConfig,
  type TestNode,
} from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

// A node as the REST helpers need it; the restart test starts one itself.
type Reachable = { url: string; adminAuth: string };

async function createTenant(node: Reachable, account = 'acme') {
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account },
  });
  expect(created.status).toBe(200);
  return tenantOn(node, account, created.data.authCode);
}

function tenantOn(node: { url: string }, account: string, authCode: string) {
  const auth = `Basic ${Buffer.from(`${account}:${authCode}`).toString('base64')}`;
  const connectAs = async (userId: string, appPlatform = 'web', extra: object = {}) => {
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId, appPlatform, ...extra },
    });
    expect(issued.status).toBe(200);
    return connectUser(node.url, issued.data.token);
  };
  const open = async (userId: string, appPlatform = 'web', extra: object = {}) =>
    (await connectAs(userId, appPlatform, extra)).client;
  return { authCode, connectAs, open };
}

const FAST = { PRIM_LIMITS_MESSAGES_PER_SECOND: '10000' };

// Sends every frame at once and resolves with the replies, in sent order.
async function pipeline(client: TestClient, receiverId: string, texts: string[]) {
  const base = `p${Math.random().toString(36).slice(2)}-`;
  texts.forEach((message, i) =>
    client.send({ seq: base + i, action: 'msg', msg: { receiverId, message } }),
  );
  return Promise.all(texts.map((_text, i) => client.next((frame) => frame.seq === base + i)));
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_unused, i) => from + i);

test('the ack comes after the message is stored and names its id, inboxSeq and time', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');
  const bob = await acme.open('bob');

  const before = Date.now();
  const ack = await alice.request('msg', { receiverId: 'bob', message: 'stored?' });
  const after = Date.now();
  expect(ack.action).toBe('ack');
  expect(ack.msg).toEqual({
    id: expect.stringMatching(/^\d+$/),
    inboxSeq: 1,
    time: expect.any(Number),
    delivered: true,
  });
  expect(ack.msg.time).toBeGreaterThanOrEqual(before);
  expect(ack.msg.time).toBeLessThanOrEqual(after);

  // Another connection reads it back at once.
  const [stored] = await syncAll(bob);
  expect(stored).toMatchObject({ id: ack.msg.id, inboxSeq: 1, message: 'stored?' });
  expect(stored.time).toBe(ack.msg.time);
  expect(stored.dateTime).toBe(new Date(ack.msg.time).toISOString());
});

test('a pushed message carries everything a client shows', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice', 'web', { nickname: 'Alice', avatar: 'https://a/1.png' });
  const bob = await acme.open('bob');

  const ack = await alice.request('msg', {
    receiverId: 'bob',
    message: 'typed',
    msgType: 2,
    msgContType: '7',
  });
  const push = await bob.next('msg');
  expect(push).toEqual({
    seq: ack.msg.id,
    action: 'msg',
    msg: {
      id: ack.msg.id,
      inboxSeq: 1,
      senderInfo: { userId: 'alice', nickname: 'Alice', avatar: 'https://a/1.png' },
      receiverId: 'bob',
      message: 'typed',
      msgType: 2,
      msgContType: 7,
      time: ack.msg.time,
      dateTime: new Date(ack.msg.time).toISOString(),
    },
  });
});

test('every inbox is numbered 1, 2, 3 … without gaps while three users write at once', async () => {
  const node = await startTestNode(FAST);
  const acme = await createTenant(node);
  const users = ['alice', 'bob', 'carol'];
  const clients = await Promise.all(users.map((user) => acme.open(user)));

  const sends = clients.flatMap((client, i) => [
    pipeline(
      client,
      users[(i + 1) % 3],
      range(1, 30).map((n) => `${users[i]}-a${n}`),
    ),
    pipeline(
      client,
      users[(i + 2) % 3],
      range(1, 30).map((n) => `${users[i]}-b${n}`),
    ),
  ]);
  const acks = await Promise.all(sends);

  for (const [i, client] of clients.entries()) {
    const inbox = await syncAll(client);
    expect(inbox.map((message) => message.inboxSeq)).toEqual(range(1, 120));
    const own = [...acks[2 * i], ...acks[2 * i + 1]].map((ack) => ack.msg.inboxSeq);
    expect(new Set(own).size).toBe(60);
    for (const seq of own) expect(inbox[seq - 1].senderInfo.userId).toBe(users[i]);
  }
});

test('a burst of 200 pipelined messages keeps its order at both ends', async () => {
  const node = await startTestNode(FAST);
  const acme = await createTenant(node);
  const alice = await acme.open('alice');
  const bob = await acme.open('bob');
  const texts = range(0, 199).map((n) => `m${n}`);

  const acks = await pipeline(alice, 'bob', texts);
  expect(acks.map((ack) => ack.msg.inboxSeq)).toEqual(range(1, 200));
  const ids = acks.map((ack) => Number(ack.msg.id));
  expect(ids).toEqual([...ids].sort((a, b) => a - b));

  const pushes: Frame[] = [];
  for (let i = 0; i < 200; i += 1) pushes.push(await bob.next('msg'));
  expect(pushes.map((push) => push.msg.message)).toEqual(texts);
  expect(pushes.map((push) => push.msg.inboxSeq)).toEqual(range(1, 200));
  expect((await syncAll(bob)).map((message) => message.message)).toEqual(texts);
});

test('a message to an offline user is acked as not delivered and waits for sync', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');

  const ack = await alice.request('msg', { receiverId: 'bob', message: 'while away' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: false });

  const bob = await acme.connectAs('bob');
  expect(bob.welcome.msg.inboxSeq).toBe(1);
  const sync = await bob.client.request('sync', { since: 0 });
  expect(sync.msg.hasMore).toBe(false);
  expect(sync.msg.messages).toEqual([
    expect.objectContaining({ id: ack.msg.id, inboxSeq: 1, message: 'while away' }),
  ]);
});

test('sync pages through the inbox after since with limit and hasMore', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');
  await pipeline(alice, 'bob', ['1', '2', '3', '4', '5']);

  const page = async (since: number, limit?: number) => {
    const reply = await alice.request('sync', limit === undefined ? { since } : { since, limit });
    expect(reply.action).toBe('sync');
    const seqs = reply.msg.messages.map((message: Frame['msg']) => message.inboxSeq);
    return { seqs, hasMore: reply.msg.hasMore };
  };
  expect(await page(0, 2)).toEqual({ seqs: [1, 2], hasMore: true });
  expect(await page(2, 2)).toEqual({ seqs: [3, 4], hasMore: true });
  expect(await page(4, 2)).toEqual({ seqs: [5], hasMore: false });
  expect(await page(3)).toEqual({ seqs: [4, 5], hasMore: false });
  expect(await page(5)).toEqual({ seqs: [], hasMore: false });
  expect(await page(99)).toEqual({ seqs: [], hasMore: false });
  const noMsg = await alice.request('sync');
  expect(noMsg.msg.messages).toHaveLength(5);
});

test('sync with a bad since or limit gets error 1001 and the session stays', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');

  for (const msg of [
    { since: -1 },
    { since: '3' },
    { since: 1.5 },
    { since: 0, limit: 0 },
    { since: 0, limit: 501 },
    { since: 0, limit: 'all' },
  ]) {
    const reply = await alice.request('sync', msg);
    expect(reply.action).toBe('error');
    expect(reply.msg.code).toBe(1001);
  }
  expect((await alice.request('sync', { since: 0, limit: 500 })).action).toBe('sync');
});

test('senderInfo comes from the token, never from the frame', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice', 'web', { nickname: 'Alice', avatar: 'https://a/1.png' });
  const bob = await acme.open('bob');

  const ack = await alice.request('msg', {
    receiverId: 'bob',
    message: 'who am I',
    senderId: 'mallory',
    senderInfo: { userId: 'mallory', nickname: 'Mallory', avatar: 'https://evil/x.png' },
  });
  expect(ack.action).toBe('ack');
  const expected = { userId: 'alice', nickname: 'Alice', avatar: 'https://a/1.png' };
  expect((await bob.next('msg')).msg.senderInfo).toEqual(expected);
  expect((await syncAll(bob))[0].senderInfo).toEqual(expected);

  // No claims, no nickname: the fields are empty rather than invented.
  const carol = await acme.open('carol');
  await carol.request('msg', {
    receiverId: 'bob',
    message: 'plain',
    senderInfo: { nickname: 'X' },
  });
  const plain = await bob.next('msg');
  expect(plain.msg.senderInfo).toEqual({ userId: 'carol', nickname: '', avatar: '' });
});

test('a resent clientMsgId gets the original id with duplicate: true and one push', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');
  const bob = await acme.open('bob');
  const msg = { receiverId: 'bob', message: 'once', clientMsgId: 'c-1' };

  const first = await alice.request('msg', msg);
  const again = await alice.request('msg', msg);
  expect(first.msg).toMatchObject({ inboxSeq: 1, delivered: true });
  expect(first.msg.duplicate).toBeUndefined();
  expect(again.msg).toMatchObject({ id: first.msg.id, inboxSeq: 1, duplicate: true });
  expect(again.msg.time).toBe(first.msg.time);

  const next = await alice.request('msg', { receiverId: 'bob', message: 'after' });
  expect(next.msg.inboxSeq).toBe(2);
  const pushes = [await bob.next('msg'), await bob.next('msg')];
  expect(pushes.map((push) => push.msg.message)).toEqual(['once', 'after']);
  expect(bob.frames).toEqual([]);
  expect((await syncAll(bob)).map((message) => message.message)).toEqual(['once', 'after']);

  // The same clientMsgId from another sender is another message.
  const carol = await acme.open('carol');
  const carols = await carol.request('msg', msg);
  expect(carols.msg.duplicate).toBeUndefined();
  expect(carols.msg.id).not.toBe(first.msg.id);
});

test('a user can write to themselves; it takes one place in their inbox', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');

  const ack = await alice.request('msg', { receiverId: 'alice', message: 'note to self' });
  expect(ack.msg.inboxSeq).toBe(1);
  const inbox = await syncAll(alice);
  expect(inbox).toHaveLength(1);
  expect(inbox[0]).toMatchObject({
    id: ack.msg.id,
    inboxSeq: 1,
    receiverId: 'alice',
    senderInfo: { userId: 'alice' },
  });
});

test('an empty, 129-character or control-character receiverId gets error 1002', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');

  for (const receiverId of ['', 'b'.repeat(129), 'bo\nb', undefined]) {
    const reply = await alice.request('msg', { receiverId, message: 'hi' });
    expect(reply.action).toBe('error');
    expect(reply.msg.code).toBe(1002);
  }
  const longest = await alice.request('msg', { receiverId: 'b'.repeat(128), message: 'hi' });
  expect(longest.msg.inboxSeq).toBe(1);
  expect(await syncAll(alice)).toHaveLength(1);
});

test('a message with no text or a bad msgType gets error 1001', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node);
  const alice = await acme.open('alice');

  for (const msg of [
    { receiverId: 'bob' },
    { receiverId: 'bob', message: '' },
    { receiverId: 'bob', message: 42 },
    { receiverId: 'bob', message: 'x', msgType: -1 },
    { receiverId: 'bob', message: 'x', clientMsgId: '' },
    'not an object',
  ]) {
    expect((await alice.request('msg', msg)).msg.code).toBe(1001);
  }
  expect(await syncAll(alice)).toEqual([]);
});

test('a message in one tenant never reaches the same user id in another tenant', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const globex = await createTenant(node, 'globex');
  const alice = await acme.open('alice');
  const acmeBob = await acme.open('bob');
  const globexBob = await globex.open('bob');
  const globexCarol = await globex.open('carol');

  const ack = await alice.request('msg', { receiverId: 'bob', message: 'for acme bob' });
  expect(ack.msg.delivered).toBe(true);
  expect((await acmeBob.next('msg')).msg.message).toBe('for acme bob');

  // Anything for globex's bob would arrive before this later message.
  await globexCarol.request('msg', { receiverId: 'bob', message: 'for globex bob' });
  const first = await globexBob.next('msg');
  expect(first.msg).toMatchObject({ message: 'for globex bob', inboxSeq: 1 });
  expect(globexBob.frames).toEqual([]);
  expect((await syncAll(globexBob)).map((message) => message.message)).toEqual(['for globex bob']);
});

test('everything acked before a stop is synced from a new node on the same data', async () => {
  const dataDir = tempDir();
  const config = testConfig(dataDir, FAST);
  const started = await startNode(config, createLogger({ level: 'silent', pretty: false }));
  const first = { ...started, adminAuth: `Bearer ${started.adminKey.key}` };
  let second: TestNode | undefined;
  try {
    const acme = await createTenant(first);
    const alice = await acme.open('alice');
    const acks = await pipeline(
      alice,
      'bob',
      range(1, 50).map((n) => `m${n}`),
    );
    // Frames still in flight when the stop begins are answered or dropped.
    const late = range(51, 80).map((n) => `m${n}`);
    late.forEach((message, i) =>
      alice.send({ seq: `late${i}`, action: 'msg', msg: { receiverId: 'bob', message } }),
    );
    await first.stop();
    await alice.closed;
    const lateAcks = alice.frames.filter((frame) => frame.action === 'ack');
    const acked = [...acks, ...lateAcks].map((ack) => ack.msg.id);

    second = await startTestNode(FAST, dataDir);
    const bob = await tenantOn(second, 'acme', acme.authCode).open('bob');
    const inbox = await syncAll(bob);
    expect(inbox.map((message) => message.id)).toEqual(acked);
    expect(inbox.map((message) => message.inboxSeq)).toEqual(range(1, acked.length));
    expect(inbox.map((message) => message.message)).toEqual(
      range(1, acked.length).map((n) => `m${n}`),
    );
  } finally {
    await first.stop();
    // Once the second node runs, stopTestNodes removes the folder.
    if (!second) rmSync(dataDir, { recursive: true, force: true });
  }
});
