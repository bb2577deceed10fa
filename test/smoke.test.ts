import { afterEach, expect, test } from 'vitest';
import { closeClients, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

test('two users exchange a message', async () => {
  const node = await startTestNode();
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  expect(created.status).toBe(200);
  const auth = node.tenantAuth('acme', created.data.authCode);
  const tokenA = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'alice', appPlatform: 'web' },
  });
  const tokenB = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'bob', appPlatform: 'web' },
  });
  expect(tokenA.status).toBe(200);
  const a = await connectUser(node.url, tokenA.data.token);
  const b = await connectUser(node.url, tokenB.data.token);
  expect(a.welcome.msg.userId).toBe('alice');
  const ack = await a.client.request('msg', { receiverId: 'bob', message: 'hi' });
  expect(ack.action).toBe('ack');
  expect(ack.msg.delivered).toBe(true);
  const pushed = await b.client.next('msg');
  expect(pushed.msg.message).toBe('hi');
  expect(pushed.msg.senderInfo.userId).toBe('alice');
});
