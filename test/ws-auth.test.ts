// How /acc authenticates a connection: a token in the URL or a login frame.
import { SignJWT } from 'jose';
import { afterEach, expect, test } from 'vitest';
import { closeClients, connect, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes } from './helpers/node.js';
import { call } from './helpers/rest.js';
import { createTenant } from './helpers/tenant.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

// A token minted the way a tenant backend may do it itself.
function mint(secret: string, kid: string, claims: Record<string, unknown>) {
  const now = Date.now() / 1000;
  return new SignJWT({ sub: 'alice', plt: 'web', iat: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256', kid })
    .sign(new TextEncoder().encode(secret));
}

const refusal = (status: number, code: number) => ({ status, body: { code, data: null } });

test('a token in the query is greeted with a welcome naming the session', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const { welcome } = await connectUser(node.url, await acme.token('alice', 'Android'));

  expect(welcome.seq).toBe('');
  expect(welcome.msg).toEqual({
    connId: expect.any(String),
    userId: 'alice',
    platform: 'android',
    inboxSeq: 0,
    heartbeatInterval: 30_000,
  });
  expect(welcome.msg.connId.length).toBeGreaterThan(0);
});

test('the welcome reports the inbox head of a user who already has messages', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const alice = await connectUser(node.url, await acme.token('alice'));
  await alice.client.request('msg', { receiverId: 'bob', message: 'one' });
  await alice.client.request('msg', { receiverId: 'bob', message: 'two' });

  const bob = await connectUser(node.url, await acme.token('bob'));
  expect(bob.welcome.msg.inboxSeq).toBe(2);
  const second = await connectUser(node.url, await acme.token('alice', 'ios'));
  expect(second.welcome.msg.inboxSeq).toBe(2);
  expect(second.welcome.msg.connId).not.toBe(alice.welcome.msg.connId);
});

test('a bad token is refused before the upgrade with HTTP 401 and code 1003', async () => {
  const node = await startTestNode();
  await createTenant(node, 'acme');

  await expect(connect(node.url, 'not-a-jwt')).rejects.toMatchObject(refusal(401, 1003));
  await expect(connect(node.url, '')).rejects.toMatchObject(refusal(401, 1003));
  const unknownTenant = await mint('x'.repeat(43), 'nobody', {});
  await expect(connect(node.url, unknownTenant)).rejects.toMatchObject(refusal(401, 1003));
});

test('an expired token is refused with HTTP 401 and code 1015', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const past = Date.now() / 1000 - 120;
  const expired = await mint(acme.authCode, 'acme', { iat: past, exp: past + 60 });

  await expect(connect(node.url, expired)).rejects.toMatchObject(refusal(401, 1015));
});

test('a revoked token is refused with HTTP 401 and code 1016', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const issuedEarlier = await mint(acme.authCode, 'acme', { iat: Date.now() / 1000 - 5 });
  const { client } = await connectUser(node.url, issuedEarlier);

  const exit = await call(node.url, 'POST', '/sysClient/exit', {
    auth: acme.auth,
    body: { userId: 'alice', appPlatform: 'web' },
  });
  expect(exit.data).toMatchObject({ userId: 'alice', platform: 'web', closed: 1 });
  expect((await client.next('exit')).msg.reason).toBe('kicked');
  expect((await client.closed).code).toBe(4503);

  await expect(connect(node.url, issuedEarlier)).rejects.toMatchObject(refusal(401, 1016));
  // A token issued after the revocation is good again.
  await connectUser(node.url, await acme.token('alice'));
});

test('a token of a disabled tenant is refused with HTTP 403 and code 1014', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const token = await acme.token('alice');
  const { client } = await connectUser(node.url, token);

  const disabled = await call(node.url, 'POST', '/sysClient/disable', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  expect(disabled.status).toBe(200);
  expect((await client.next('exit')).msg.reason).toBe('tenant disabled');
  expect((await client.closed).code).toBe(4504);

  await expect(connect(node.url, token)).rejects.toMatchObject(refusal(403, 1014));
});

test("a token signed with another tenant's secret is refused with code 1003", async () => {
  const node = await startTestNode();
  await createTenant(node, 'acme');
  const globex = await createTenant(node, 'globex');
  const forged = await mint(globex.authCode, 'acme', {});

  await expect(connect(node.url, forged)).rejects.toMatchObject(refusal(401, 1003));
});

test('a token with an unknown platform is refused with code 1003', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const token = await mint(acme.authCode, 'acme', { plt: 'fridge' });

  await expect(connect(node.url, token)).rejects.toMatchObject(refusal(401, 1003));
});

test('a bare connection logs in with a login frame and is then welcomed', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const client = await connect(node.url);

  client.send({ seq: 7, action: 'login', msg: { token: await acme.token('alice', 'ios') } });
  const reply = await client.next();
  expect(reply).toEqual({ seq: 7, action: 'login', msg: { userId: 'alice', platform: 'ios' } });
  const welcome = await client.next();
  expect(welcome.action).toBe('welcome');
  expect(welcome.msg).toMatchObject({ userId: 'alice', platform: 'ios', inboxSeq: 0 });

  const ack = await client.request('msg', { receiverId: 'bob', message: 'hi' });
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: false });
});

test('a second login on a logged-in connection is refused and the session stays', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const { client } = await connectUser(node.url, await acme.token('alice'));

  const again = await client.request('login', { token: await acme.token('bob') });
  expect(again.action).toBe('error');
  expect(again.msg.code).toBe(1001);
  const ack = await client.request('msg', { receiverId: 'carol', message: 'still alice' });
  expect(ack.action).toBe('ack');
  const sync = await client.request('sync', { since: 0 });
  expect(sync.msg.messages[0].senderInfo.userId).toBe('alice');
});

test('a login frame with a bad token gets error 1003, then close 4500', async () => {
  const node = await startTestNode();
  await createTenant(node, 'acme');
  const client = await connect(node.url);

  client.send({ seq: 'l1', action: 'login', msg: { token: 'garbage' } });
  const error = await client.next();
  expect(error.seq).toBe('l1');
  expect(error.action).toBe('error');
  expect(error.msg.code).toBe(1003);
  expect((await client.closed).code).toBe(4500);
});

test('a login frame without a token closes the connection with 4500', async () => {
  const node = await startTestNode();
  const client = await connect(node.url);

  client.send({ seq: 1, action: 'login', msg: {} });
  expect((await client.next('error')).msg.code).toBe(1003);
  expect((await client.closed).code).toBe(4500);
});

test('a login frame with an expired token closes the connection with 4501', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const past = Date.now() / 1000 - 120;
  const expired = await mint(acme.authCode, 'acme', { iat: past, exp: past + 60 });
  const client = await connect(node.url);

  client.send({ seq: 1, action: 'login', msg: { token: expired } });
  const error = await client.next();
  expect(error).toMatchObject({ seq: 1, action: 'error', msg: { code: 1015 } });
  expect((await client.closed).code).toBe(4501);
});

test('a login frame with a token of a disabled tenant gets close 4504', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const token = await acme.token('alice');
  await call(node.url, 'POST', '/sysClient/disable', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  const client = await connect(node.url);

  client.send({ seq: 1, action: 'login', msg: { token } });
  expect((await client.next()).msg.code).toBe(1014);
  expect((await client.closed).code).toBe(4504);
});

test('actions before login get error 1000 and the connection stays', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const client = await connect(node.url);

  const msg = await client.request('msg', { receiverId: 'bob', message: 'hi' });
  expect(msg.action).toBe('error');
  expect(msg.msg.code).toBe(1000);
  const sync = await client.request('sync', { since: 0 });
  expect(sync.msg.code).toBe(1000);
  expect((await client.request('ping')).msg).toEqual({ result: 'pong' });

  client.send({ seq: 'in', action: 'login', msg: { token: await acme.token('alice') } });
  expect((await client.next('welcome')).msg.userId).toBe('alice');
  expect((await client.request('sync', { since: 0 })).msg).toEqual({
    messages: [],
    hasMore: false,
  });
});

test('a store failure at login gets error 1004; the connection may log in again', async () => {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const { store } = node.context;
  const inboxHead = store.inboxHead.bind(store);
  store.inboxHead = async () => {
    store.inboxHead = inboxHead;
    throw new Error('the disk is gone');
  };
  const token = await acme.token('alice');
  const client = await connect(node.url, token);

  expect(await client.next()).toEqual({
    seq: '',
    action: 'error',
    msg: { code: 1004, error: 'server error' },
  });
  expect((await client.request('sync', { since: 0 })).msg.code).toBe(1000);
  client.send({ seq: 2, action: 'login', msg: { token } });
  expect((await client.next('login')).msg.userId).toBe('alice');
  expect((await client.next('welcome')).msg.inboxSeq).toBe(0);
  expect((await client.request('sync', { since: 0 })).action).toBe('sync');
});

test('a connection that does not log in within ws.loginTimeout is closed with 4001', async () => {
  const node = await startTestNode({ PRIM_WS_LOGIN_TIMEOUT: '300ms' });
  const opened = Date.now();
  const client = await connect(node.url);

  expect((await client.next('exit')).msg.reason).toBe('login timeout');
  expect((await client.closed).code).toBe(4001);
  expect(Date.now() - opened).toBeGreaterThanOrEqual(290);
});

test('a connection that logged in is not closed by the login timeout', async () => {
  const node = await startTestNode({ PRIM_WS_LOGIN_TIMEOUT: '300ms' });
  const acme = await createTenant(node, 'acme');
  const client = await connect(node.url);
  client.send({ seq: 1, action: 'login', msg: { token: await acme.token('alice') } });
  await client.next('welcome');

  // Nothing to await here: the point is that no close comes once the
  // timeout has passed.
  await new Promise((resolve) => setTimeout(resolve, 450));
  expect((await client.request('ping')).action).toBe('ok');
  expect(client.socket.readyState).toBe(client.socket.OPEN);
});
