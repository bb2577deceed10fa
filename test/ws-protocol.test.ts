// The /acc frame protocol: replies, errors, limits and the ways a
// connection ends.
import { afterEach, expect, test } from 'vitest';
import { closeClients, connect, connectUser, type Frame } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

async function tokenFor(node: TestNode, userId: string, appPlatform = 'web') {
  const auth = node.tenantAuth('acme', await authCodeOf(node));
  const issued = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId, appPlatform },
  });
  expect(issued.status).toBe(200);
  return issued.data.token as string;
}

const authCodes = new WeakMap<TestNode, string>();

async function authCodeOf(node: TestNode): Promise<string> {
  const known = authCodes.get(node);
  if (known) return known;
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  expect(created.status).toBe(200);
  authCodes.set(node, created.data.authCode);
  return created.data.authCode;
}

async function session(node: TestNode, userId = 'alice', platform = 'web') {
  return (await connectUser(node.url, await tokenFor(node, userId, platform))).client;
}

test('ping is answered with pong, echoing a string or a number seq as sent', async () => {
  const node = await startTestNode();
  const client = await connect(node.url);

  client.send({ seq: 'abc', action: 'ping' });
  expect(await client.next()).toEqual({ seq: 'abc', action: 'ok', msg: { result: 'pong' } });
  client.send({ seq: 42, action: 'ping' });
  expect(await client.next()).toEqual({ seq: 42, action: 'ok', msg: { result: 'pong' } });
  client.send({ action: 'ping' });
  expect(await client.next()).toEqual({ seq: '', action: 'ok', msg: { result: 'pong' } });
});

test('heartbeat is answered with the server time', async () => {
  const node = await startTestNode();
  const client = await session(node);

  const before = Date.now();
  client.send({ seq: 9, action: 'heartbeat' });
  const reply = await client.next();
  expect(reply.seq).toBe(9);
  expect(reply.action).toBe('heartbeat');
  expect(reply.msg.serverTime).toBeGreaterThanOrEqual(before);
  expect(reply.msg.serverTime).toBeLessThanOrEqual(Date.now());
});

test('bad JSON gets error 1001 and the connection keeps answering', async () => {
  const node = await startTestNode();
  const client = await session(node);

  client.send('{"seq": 1, "action": ');
  expect(await client.next()).toMatchObject({ seq: '', action: 'error', msg: { code: 1001 } });
  client.send('[1, 2, 3]');
  expect((await client.next()).msg.code).toBe(1001);
  client.send({ seq: 3, action: 42 });
  expect(await client.next()).toMatchObject({ seq: 3, action: 'error', msg: { code: 1001 } });
  client.send({ seq: { nested: true }, action: 'ping' });
  expect((await client.next()).msg.code).toBe(1001);

  expect((await client.request('ping')).msg).toEqual({ result: 'pong' });
});

test('an unknown action gets error 1010 naming it, and the connection stays', async () => {
  const node = await startTestNode();
  const client = await session(node);

  const reply = await client.request('teleport');
  expect(reply.action).toBe('error');
  expect(reply.msg.code).toBe(1010);
  expect(reply.msg.error).toContain('teleport');
  expect((await client.request('ping')).action).toBe('ok');
});

test('a binary frame gets error 1001 and the connection stays', async () => {
  const node = await startTestNode();
  const client = await session(node);

  client.socket.send(Buffer.from(JSON.stringify({ seq: 5, action: 'ping' })), { binary: true });
  const reply = await client.next();
  expect(reply.action).toBe('error');
  expect(reply.msg.code).toBe(1001);
  expect((await client.request('ping')).action).toBe('ok');
});

test('a frame larger than limits.maxFrameBytes closes the connection with 1009', async () => {
  const node = await startTestNode({ PRIM_LIMITS_MAX_FRAME_BYTES: '1024' });
  const client = await session(node);

  const fits = await client.request('msg', { receiverId: 'bob', message: 'x'.repeat(800) });
  expect(fits.action).toBe('ack');
  client.send({ seq: 2, action: 'msg', msg: { receiverId: 'bob', message: 'x'.repeat(2000) } });
  expect((await client.closed).code).toBe(1009);

  const again = await session(node, 'alice', 'ios');
  const sync = await again.request('sync', { since: 0 });
  expect(sync.msg.messages.map((m: Frame['msg']) => m.message.length)).toEqual([800]);
});

test('exit is answered with exit, then the connection closes with 1000', async () => {
  const node = await startTestNode();
  const client = await session(node);

  client.send({ seq: 'bye', action: 'exit' });
  expect(await client.next()).toEqual({ seq: 'bye', action: 'exit' });
  expect((await client.closed).code).toBe(1000);
});

test('frames sent after exit are not acted on', async () => {
  const node = await startTestNode();
  const client = await session(node);

  client.send({ seq: 1, action: 'exit' });
  client.send({ seq: 2, action: 'msg', msg: { receiverId: 'bob', message: 'too late' } });
  expect((await client.closed).code).toBe(1000);
  expect(client.frames).toEqual([{ seq: 1, action: 'exit' }]);

  const bob = await session(node, 'bob');
  expect((await bob.request('sync', { since: 0 })).msg.messages).toEqual([]);
});

test('a silent session is closed with 4001 after ws.heartbeatTimeout', async () => {
  const node = await startTestNode({ PRIM_WS_HEARTBEAT_TIMEOUT: '300ms' });
  const { client, welcome } = await connectUser(node.url, await tokenFor(node, 'alice'));
  const since = Date.now();
  expect(welcome.msg.heartbeatInterval).toBe(100);

  expect(await client.next('exit')).toEqual({
    seq: '',
    action: 'exit',
    msg: { reason: 'heartbeat timeout' },
  });
  expect((await client.closed).code).toBe(4001);
  expect(Date.now() - since).toBeGreaterThanOrEqual(290);
});

test('a session that heartbeats at the announced interval is kept open', async () => {
  const node = await startTestNode({ PRIM_WS_HEARTBEAT_TIMEOUT: '600ms' });
  const { client, welcome } = await connectUser(node.url, await tokenFor(node, 'alice'));

  const beat = setInterval(
    () => client.send({ action: 'heartbeat' }),
    welcome.msg.heartbeatInterval,
  );
  // The point is the absence of a close over several timeouts: nothing to await.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  clearInterval(beat);
  expect(client.frames.some((frame) => frame.action === 'exit')).toBe(false);
  expect((await client.request('ping')).action).toBe('ok');
});

test('pipelined frames are answered strictly in the order they were sent', async () => {
  const node = await startTestNode({ PRIM_LIMITS_MESSAGES_PER_SECOND: '1000' });
  const client = await session(node);
  const seen: Frame[] = [];
  client.socket.on('message', (data) => seen.push(JSON.parse(String(data)) as Frame));

  const kinds = ['msg', 'ping', 'sync', 'heartbeat', 'msg', 'teleport', 'msg', 'sync'];
  const sent: Array<{ seq: number; action: string }> = [];
  for (let round = 0; round < 10; round += 1) {
    for (const action of kinds) {
      const seq = sent.length;
      const msg =
        action === 'msg'
          ? { receiverId: 'bob', message: `m${seq}` }
          : action === 'sync'
            ? { since: 0, limit: 500 }
            : undefined;
      client.send({ seq, action, msg });
      sent.push({ seq, action });
    }
  }
  await client.next((frame) => frame.seq === sent.length - 1);

  const expected: Record<string, string> = {
    msg: 'ack',
    ping: 'ok',
    sync: 'sync',
    heartbeat: 'heartbeat',
    teleport: 'error',
  };
  expect(seen.map((frame) => [frame.seq, frame.action])).toEqual(
    sent.map(({ seq, action }) => [seq, expected[action]]),
  );
  // Each sync sees exactly the messages acknowledged before it.
  let acked = 0;
  for (const frame of seen) {
    if (frame.action === 'ack') acked += 1;
    if (frame.action === 'sync') expect(frame.msg.messages).toHaveLength(acked);
  }
});

test('msg frames beyond limits.messagesPerSecond get 1012; the session stays', async () => {
  const node = await startTestNode({ PRIM_LIMITS_MESSAGES_PER_SECOND: '3' });
  const client = await session(node);

  for (let i = 0; i < 6; i += 1) {
    client.send({ seq: i, action: 'msg', msg: { receiverId: 'bob', message: `m${i}` } });
  }
  const replies: Frame[] = [];
  for (let i = 0; i < 6; i += 1) replies.push(await client.next((frame) => frame.seq === i));

  expect(replies.map((frame) => frame.action)).toEqual([
    'ack',
    'ack',
    'ack',
    'error',
    'error',
    'error',
  ]);
  expect(replies[3].msg.code).toBe(1012);
  expect(replies[3].msg.error).toContain('limits.messagesPerSecond');
  const sync = await client.request('sync', { since: 0 });
  expect(sync.msg.messages.map((m: Frame['msg']) => m.message)).toEqual(['m0', 'm1', 'm2']);
});

test('a connection beyond limits.maxConnections is closed with 4505', async () => {
  const node = await startTestNode({ PRIM_LIMITS_MAX_CONNECTIONS: '1' });
  const first = await session(node, 'alice');

  const second = await connect(node.url, await tokenFor(node, 'bob'));
  const exit = await second.next();
  expect(exit.action).toBe('exit');
  expect(exit.msg.reason).toContain('limits.maxConnections');
  expect((await second.closed).code).toBe(4505);
  expect((await first.request('ping')).action).toBe('ok');
});

test('a bare connection that has not logged in counts against limits.maxConnections', async () => {
  const node = await startTestNode({ PRIM_LIMITS_MAX_CONNECTIONS: '1' });
  const bare = await connect(node.url);
  expect((await bare.request('ping')).action).toBe('ok');

  const second = await connect(node.url);
  expect((await second.closed).code).toBe(4505);
});

test('a receiver that does not read is closed with 4002 past limits.maxBufferedBytes', async () => {
  const node = await startTestNode({
    PRIM_LIMITS_MAX_BUFFERED_BYTES: '65536',
    PRIM_LIMITS_MESSAGES_PER_SECOND: '100000',
  });
  const sender = await session(node, 'alice');
  const receiver = await session(node, 'bob');
  const raw = (receiver.socket as unknown as { _socket: { pause(): void; resume(): void } })
    ._socket;
  raw.pause();

  // Until the kernel's socket buffers are full the server's own buffer stays
  // empty; the first push that finds it over the limit closes the receiver,
  // which the sender sees as an ack that was not delivered.
  const message = 'x'.repeat(60_000);
  let sent = 0;
  let ack: Frame;
  do {
    ack = await sender.request('msg', { receiverId: 'bob', message });
    sent += 1;
  } while (ack.msg.delivered && sent < 2000);
  expect(ack.msg.delivered).toBe(false);

  raw.resume();
  const closed = await receiver.closed;
  expect(closed.code).toBe(4002);
  const exit = receiver.frames.at(-1);
  expect(exit).toEqual({
    seq: '',
    action: 'exit',
    msg: { reason: 'too slow to keep up; reconnect and sync' },
  });
  const pushed = receiver.frames.filter((frame) => frame.action === 'msg').length;
  expect(pushed).toBe(sent - 1);

  // Everything stays in the inbox for the reconnect.
  const again = await connectUser(node.url, await tokenFor(node, 'bob'));
  expect(again.welcome.msg.inboxSeq).toBe(sent);
});

test('stopping the node closes every session with 4000 after an exit frame', async () => {
  const node = await startTestNode();
  const alice = await session(node, 'alice');
  const bob = await session(node, 'bob', 'android');
  const bare = await connect(node.url);

  await node.stop();
  for (const client of [alice, bob, bare]) {
    expect((await client.closed).code).toBe(4000);
    expect(client.frames.at(-1)).toEqual({
      seq: '',
      action: 'exit',
      msg: { reason: 'server draining; reconnect now' },
    });
  }
  await expect(connect(node.url)).rejects.toThrow();
});
