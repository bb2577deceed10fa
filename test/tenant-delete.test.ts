import { afterEach, expect, test } from 'vitest';
import { closeClients } from './helpers/client.js';
import { startTestNode, stopTestNodes } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

test('a tenant deleted behind the node leaves nothing for a new tenant of its name', async () => {
  const node = await startTestNode();
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'eta' },
  });
  const oldAuth = node.tenantAuth('eta', created.data.authCode);
  const first = await call(node.url, 'POST', '/msg/sendMsg', {
    auth: oldAuth,
    body: { receiverId: 'e1', message: 'before delete' },
  });
  expect(first.code).toBe(200);

  // As `prim tenant delete` does: straight in the store, while the node
  // still has the tenant in its cache.
  await node.context.store.deleteTenant('eta');
  const late = await call(node.url, 'POST', '/msg/sendMsg', {
    auth: oldAuth,
    body: { receiverId: 'e1', message: 'after delete' },
  });
  expect(late).toMatchObject({ status: 401, code: 1003, msg: 'tenant "eta" does not exist' });

  const again = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'eta' },
  });
  const history = await call(node.url, 'GET', '/msg/getMsg', {
    auth: node.tenantAuth('eta', again.data.authCode),
    query: { senderId: 'system', receiverId: 'e1' },
  });
  expect(history.data).toEqual({ msgList: [], hasMore: false });
});
