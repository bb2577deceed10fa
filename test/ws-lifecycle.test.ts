// How sessions end on their own: token expiry, protocol abuse, draining.
import { afterEach, expect, test } from 'vitest';
import { closeClients, connectUser } from './helpers/client.js';
import { stopTestNodes } from './helpers/node.js';
import { call } from './helpers/rest.js';
import { startWithTenant } from './helpers/tenant.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

test('a session whose token expires is closed with 4501', async () => {
  // A short heartbeat timeout makes the node check sessions every second.
  const { node, token } = await startWithTenant({ PRIM_WS_HEARTBEAT_TIMEOUT: '3s' });
  const { client } = await connectUser(node.url, await token('alice', 'web', { ttl: '1s' }));

  const closed = await client.closed;

  expect(closed).toEqual({ code: 4501, reason: 'token expired; reconnect with a new one' });
  expect(client.frames.at(-1)).toEqual({
    seq: '',
    action: 'exit',
    msg: { reason: 'token expired; reconnect with a new one' },
  });
});

test('a ttl under one second is refused rather than issuing an expired token', async () => {
  const { node, auth } = await startWithTenant();

  const refused = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'alice', appPlatform: 'web', ttl: '500ms' },
  });

  expect(refused).toMatchObject({
    status: 400,
    code: 1001,
    msg:
      'ttl of 500ms is not allowed; it must be at least 1s and at most 30d ' +
      '(config key tokens.maxTtl)',
  });
});

test('actions named like built-in properties are unknown actions', async () => {
  const { node, token } = await startWithTenant();
  const { client } = await connectUser(node.url, await token('alice'));

  for (const action of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    const reply = await client.request(action);
    expect(reply).toMatchObject({
      action: 'error',
      msg: { code: 1010, error: `unknown action "${action}"` },
    });
  }
});

test('a client that keeps sending cannot hold the drain open', async () => {
  // The drain bound is far beyond the test's own timeout: stop() must end
  // because the node stops reading, not because the bound runs out.
  const { node, token } = await startWithTenant({ PRIM_SHUTDOWN_TIMEOUT: '120s' });
  const { client } = await connectUser(node.url, await token('alice'));
  let sending = true;
  const flood = (async () => {
    for (let i = 0; sending && i < 100_000; i++) {
      client.send({ seq: i, action: 'ping' });
      if (i % 50 === 0) await new Promise(setImmediate);
    }
  })();
  await client.next('ok');

  await node.stop();
  sending = false;
  await flood;

  expect((await client.closed).code).toBe(4000);
});

test('a client that stopped reading cannot hold the drain open', async () => {
  // Its close frame is never read: only the node's own grace ends it, far
  // sooner than ws's 30 s closing timeout or this test's timeout.
  const { node, token } = await startWithTenant({
    PRIM_SHUTDOWN_TIMEOUT: '1s',
    PRIM_LIMITS_MESSAGES_PER_SECOND: '100000',
  });
  const receiver = await connectUser(node.url, await token('rcv'));
  const sender = await connectUser(node.url, await token('snd'));
  const raw = (receiver.client.socket as unknown as { _socket: { pause(): void } })._socket;
  raw.pause();
  for (let i = 0; i < 40; i++) {
    const ack = await sender.client.request('msg', {
      receiverId: 'rcv',
      message: 'x'.repeat(30_000),
    });
    expect(ack.action).toBe('ack');
  }

  await node.stop();

  expect(node.context.registry.size).toBe(0);
  expect((await sender.client.closed).code).toBe(4000);
});

test('an oversize frame behind other frames still closes with 1009', async () => {
  const { node, token } = await startWithTenant({ PRIM_LIMITS_MAX_FRAME_BYTES: '4096' });
  const { client } = await connectUser(node.url, await token('alice'));

  for (let i = 0; i < 50; i++) {
    client.send({ seq: i, action: 'msg', msg: { receiverId: 'bob', message: `m${i}` } });
  }
  client.send({ seq: 'big', action: 'ping', msg: 'x'.repeat(10_000) });

  expect((await client.closed).code).toBe(1009);
});
