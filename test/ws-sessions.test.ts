// Sessions of one user: the session policy, and which sessions a message
// is pushed to.
import { afterEach, expect, test } from 'vitest';
import { closeClients, connect, connectUser, type TestClient } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

async function startWithTenant(env: Record<string, string> = {}) {
  const node = await startTestNode(env);
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  expect(created.status).toBe(200);
  const auth = node.tenantAuth('acme', created.data.authCode);
  const open = async (userId: string, appPlatform: string) => {
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId, appPlatform },
    });
    expect(issued.status).toBe(200);
    return connectUser(node.url, issued.data.token);
  };
  return { node, auth, open };
}

// Resolves once every frame the node pushed to `client` before this call is
// in `client.frames`: a ping's reply comes after them on the same socket.
async function caughtUp(client: TestClient) {
  expect((await client.request('ping')).action).toBe('ok');
}

const online = (node: TestNode, auth: string, userId: string) =>
  call(node.url, 'GET', '/user/online', { auth, query: { userId, appPlatform: 'all' } });

test('a second session of the same user and platform replaces the first with 4502', async () => {
  const { node, auth, open } = await startWithTenant();
  const first = await open('alice', 'web');
  const second = await open('alice', 'web');

  expect(second.welcome.msg.connId).not.toBe(first.welcome.msg.connId);
  expect((await first.client.closed).code).toBe(4502);
  expect(first.client.frames.at(-1)).toEqual({
    seq: '',
    action: 'exit',
    msg: { reason: 'replaced by a newer session' },
  });
  expect((await second.client.request('ping')).action).toBe('ok');

  const state = await online(node, auth, 'alice');
  expect(state.data).toMatchObject({ userId: 'alice', online: true, platforms: ['web'] });
});

test('the replaced session gets no more pushes; the newer one does', async () => {
  const { open } = await startWithTenant();
  const first = await open('bob', 'web');
  const second = await open('bob', 'web');
  await first.client.closed;
  const alice = await open('alice', 'web');

  const ack = await alice.client.request('msg', { receiverId: 'bob', message: 'hi' });
  expect(ack.msg.delivered).toBe(true);
  expect((await second.client.next('msg')).msg.message).toBe('hi');
  expect(first.client.frames.filter((frame) => frame.action === 'msg')).toEqual([]);
});

test('platforms compare lower-cased, so WEB replaces web', async () => {
  const { open } = await startWithTenant();
  const first = await open('alice', 'web');
  const second = await open('alice', 'WEB');

  expect(second.welcome.msg.platform).toBe('web');
  expect((await first.client.closed).code).toBe(4502);
});

test('a session of the same user on another platform stays under the replace policy', async () => {
  const { node, auth, open } = await startWithTenant();
  const web = await open('alice', 'web');
  const ios = await open('alice', 'ios');

  await caughtUp(web.client);
  expect(web.client.frames).toEqual([]);
  expect((await ios.client.request('ping')).action).toBe('ok');
  const state = await online(node, auth, 'alice');
  expect(state.data.platforms).toEqual(['ios', 'web']);
});

test('under the multi policy two sessions on one platform stay and get pushes', async () => {
  const { open } = await startWithTenant({ PRIM_WS_SESSION_POLICY: 'multi' });
  const first = await open('bob', 'web');
  const second = await open('bob', 'web');
  const alice = await open('alice', 'android');

  await caughtUp(first.client);
  expect(first.client.frames).toEqual([]);
  const ack = await alice.client.request('msg', { receiverId: 'bob', message: 'to both' });
  expect(ack.msg.delivered).toBe(true);

  const pushes = [await first.client.next('msg'), await second.client.next('msg')];
  for (const push of pushes) {
    expect(push.seq).toBe(ack.msg.id);
    expect(push.msg).toMatchObject({ id: ack.msg.id, message: 'to both', inboxSeq: 1 });
  }
});

test('under the multi policy a kick closes every session of the user with 4503', async () => {
  const { node, auth, open } = await startWithTenant({ PRIM_WS_SESSION_POLICY: 'multi' });
  const sessions = [await open('bob', 'web'), await open('bob', 'web'), await open('bob', 'ios')];

  const exit = await call(node.url, 'POST', '/sysClient/exit', {
    auth,
    body: { userId: 'bob', appPlatform: 'web' },
  });
  expect(exit.data.closed).toBe(2);
  expect((await sessions[0].client.closed).code).toBe(4503);
  expect((await sessions[1].client.closed).code).toBe(4503);
  expect((await sessions[2].client.request('ping')).action).toBe('ok');
});

test("a message reaches the receiver's sessions and the sender's other ones", async () => {
  const { open } = await startWithTenant();
  const aliceWeb = await open('alice', 'web');
  const aliceIos = await open('alice', 'ios');
  const bobWeb = await open('bob', 'web');
  const bobAndroid = await open('bob', 'android');
  const carol = await open('carol', 'desktop');

  // Give bob a longer inbox than alice, so that the two numberings differ.
  for (const message of ['c1', 'c2', 'c3']) {
    await carol.client.request('msg', { receiverId: 'bob', message });
  }
  for (const bob of [bobWeb, bobAndroid]) {
    const seqs = [];
    for (let i = 0; i < 3; i += 1) seqs.push((await bob.client.next('msg')).msg.inboxSeq);
    expect(seqs).toEqual([1, 2, 3]);
  }

  const ack = await aliceWeb.client.request('msg', { receiverId: 'bob', message: 'hello' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: true });

  for (const bob of [bobWeb, bobAndroid]) {
    const push = await bob.client.next('msg');
    expect(push.msg).toMatchObject({
      id: ack.msg.id,
      inboxSeq: 4,
      receiverId: 'bob',
      message: 'hello',
      senderInfo: { userId: 'alice' },
    });
  }
  const echo = await aliceIos.client.next('msg');
  expect(echo.msg).toMatchObject({ id: ack.msg.id, inboxSeq: 1, receiverId: 'bob' });

  // The sending session gets its ack and nothing else.
  await caughtUp(aliceWeb.client);
  expect(aliceWeb.client.frames).toEqual([]);
});

test("a message to oneself reaches one's other sessions once, not the sending one", async () => {
  const { open } = await startWithTenant();
  const web = await open('alice', 'web');
  const ios = await open('alice', 'ios');

  const ack = await web.client.request('msg', { receiverId: 'alice', message: 'note' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: true });

  const push = await ios.client.next('msg');
  expect(push.msg).toMatchObject({ id: ack.msg.id, inboxSeq: 1, message: 'note' });
  await caughtUp(ios.client);
  await caughtUp(web.client);
  expect(ios.client.frames).toEqual([]);
  expect(web.client.frames).toEqual([]);
});

test('a session that closed is no longer pushed to and no longer online', async () => {
  const { node, auth, open } = await startWithTenant();
  const bob = await open('bob', 'web');
  const alice = await open('alice', 'web');

  bob.client.send({ seq: 1, action: 'exit' });
  expect((await bob.client.closed).code).toBe(1000);
  const ack = await alice.client.request('msg', { receiverId: 'bob', message: 'later' });
  expect(ack.msg.delivered).toBe(false);
  expect((await online(node, auth, 'bob')).data.online).toBe(false);
});

test('a login that fails after the session was registered leaves no session behind', async () => {
  const { node, auth } = await startWithTenant();
  const issued = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'alice', appPlatform: 'web' },
  });
  // The store fails once, after the session is in the registry.
  const store = node.context.store;
  const inboxHead = store.inboxHead.bind(store);
  store.inboxHead = async () => {
    store.inboxHead = inboxHead;
    throw new Error('the disk is on fire');
  };
  const client = await connect(node.url, issued.data.token);
  expect((await client.next('error')).msg.code).toBe(1004);
  expect(node.context.registry.size).toBe(0);
  expect((await online(node, auth, 'alice')).data.online).toBe(false);
  // A login frame on the same connection works, and is the only session.
  await client.request('login', { token: issued.data.token });
  expect((await client.next('welcome')).msg.userId).toBe('alice');
  expect(node.context.registry.size).toBe(1);
});
