// Who may call the REST API: the admin key, tenant credentials in each of
// the forms prim clients send them, and nobody else's.
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call, type RestResult } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

async function nodeWithTenants() {
  const node = await startTestNode();
  const codes: Record<string, string> = {};
  for (const account of ['acme', 'globex']) {
    const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.adminAuth,
      body: { account },
    });
    codes[account] = created.data.authCode;
  }
  return { node, acme: codes.acme, globex: codes.globex };
}

// A raw request, for bodies the JSON helper does not send.
async function send(
  node: TestNode,
  method: 'GET' | 'POST',
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<RestResult> {
  const response = await fetch(new URL(path, node.url), { method, ...init });
  const envelope = (await response.json()) as Omit<RestResult, 'status'>;
  return { status: response.status, ...envelope };
}

const user = { userId: 'alice', appPlatform: 'web' };

function expectToken(result: RestResult) {
  expect(result).toMatchObject({ status: 200, code: 200, msg: 'ok' });
  expect(result.data.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
}

describe('refusals', () => {
  test('a tenant route without credentials is 401/1003 and says what it needs', async () => {
    const { node } = await nodeWithTenants();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', { body: user });
    expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
    expect(refused.msg).toContain('Basic auth (account:authCode) or sysAccount and authCode');
    const read = await call(node.url, 'GET', '/user/list');
    expect(read).toMatchObject({ status: 401, code: 1003, data: null });
  });

  test('an admin route without the admin key is 401/1003', async () => {
    const { node } = await nodeWithTenants();
    const refused = await call(node.url, 'GET', '/sysClient/list');
    expect(refused).toEqual({
      status: 401,
      code: 1003,
      msg: 'this route needs the admin key as a Bearer token',
      data: null,
    });
  });

  test('a wrong admin key is 401/1003', async () => {
    const { node } = await nodeWithTenants();
    for (const auth of [
      'Bearer test-admin-key-0123456788',
      'Bearer ',
      'test-admin-key-0123456789',
    ]) {
      const refused = await call(node.url, 'GET', '/sysClient/list', { auth });
      expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
    }
    const state = await call(node.url, 'GET', '/system/state', { auth: 'Bearer wrong-key' });
    expect(state).toMatchObject({ status: 401, code: 1003, data: null });
  });

  test('the admin key is no tenant credential', async () => {
    const { node } = await nodeWithTenants();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.adminAuth,
      body: user,
    });
    expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
  });

  test('a wrong authCode is 401/1003, the same answer as an unknown tenant', async () => {
    const { node, acme } = await nodeWithTenants();
    const wrong = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.tenantAuth('acme', acme.slice(0, -1)),
      body: user,
    });
    const unknown = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.tenantAuth('nobody', acme),
      body: user,
    });
    const expected = {
      status: 401,
      code: 1003,
      msg: 'tenant account or authCode is wrong',
      data: null,
    };
    expect(wrong).toEqual(expected);
    expect(unknown).toEqual(expected);
    const asParams = await call(node.url, 'GET', '/sysClient/getToken', {
      query: { ...user, sysAccount: 'acme', authCode: 'not-the-code' },
    });
    expect(asParams).toEqual(expected);
  });

  test('tenant credentials do not open admin routes', async () => {
    const { node, acme } = await nodeWithTenants();
    const refused = await call(node.url, 'GET', '/sysClient/getSysClient', {
      auth: node.tenantAuth('acme', acme),
      query: { account: 'acme' },
    });
    expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
  });
});

describe("another tenant's credentials", () => {
  test("read nothing of this tenant's messages or users", async () => {
    const { node, acme, globex } = await nodeWithTenants();
    const acmeAuth = node.tenantAuth('acme', acme);
    const globexAuth = node.tenantAuth('globex', globex);
    const token = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: acmeAuth,
      body: user,
    });
    await connectUser(node.url, token.data.token);
    const sent = await call(node.url, 'POST', '/msg/sendMsg', {
      auth: acmeAuth,
      body: { senderId: 'bob', receiverId: 'alice', message: 'acme only' },
    });
    expect(sent).toMatchObject({ status: 200, code: 200 });

    const query = { senderId: 'bob', receiverId: 'alice' };
    const own = await call(node.url, 'GET', '/msg/getMsg', { auth: acmeAuth, query });
    expect(own.data.msgList.map((m: { message: string }) => m.message)).toEqual(['acme only']);
    const theirs = await call(node.url, 'GET', '/msg/getMsg', { auth: globexAuth, query });
    expect(theirs).toMatchObject({ status: 200, code: 200, data: { msgList: [], hasMore: false } });

    const online = await call(node.url, 'GET', '/user/online', {
      auth: globexAuth,
      query: { userId: 'alice' },
    });
    expect(online.data).toEqual({ userId: 'alice', online: false, platforms: [] });
    const list = await call(node.url, 'GET', '/user/list', { auth: globexAuth });
    expect(list.data).toMatchObject({ list: [], total: 0 });
  });

  test("cannot renew or revoke this tenant's tokens", async () => {
    const { node, acme, globex } = await nodeWithTenants();
    const token = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.tenantAuth('acme', acme),
      body: user,
    });
    const globexAuth = node.tenantAuth('globex', globex);
    const expected = {
      status: 401,
      code: 1003,
      msg: 'the token belongs to another tenant',
      data: null,
    };
    const renewed = await call(node.url, 'POST', '/sysClient/updateTokenVal', {
      auth: globexAuth,
      body: { token: token.data.token, nickname: 'Mallory' },
    });
    expect(renewed).toEqual(expected);
    const exited = await call(node.url, 'POST', '/sysClient/exit', {
      auth: globexAuth,
      body: { token: token.data.token },
    });
    expect(exited).toEqual(expected);

    const session = await connectUser(node.url, token.data.token);
    expect(session.welcome.msg.userId).toBe('alice');
  });

  test("one tenant's account with the other's authCode is refused", async () => {
    const { node, globex } = await nodeWithTenants();
    const refused = await call(node.url, 'GET', '/user/list', {
      auth: node.tenantAuth('acme', globex),
    });
    expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
  });
});

describe('tenant credentials are accepted', () => {
  test('as Basic auth', async () => {
    const { node, acme } = await nodeWithTenants();
    const result = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.tenantAuth('acme', acme),
      body: user,
    });
    expectToken(result);
  });

  test('with the auth scheme in any case', async () => {
    const { node, acme } = await nodeWithTenants();
    const basic = node.tenantAuth('acme', acme).replace('Basic', 'basic');
    expectToken(await call(node.url, 'POST', '/sysClient/getToken', { auth: basic, body: user }));
    const admin = node.adminAuth.replace('Bearer', 'BEARER');
    const list = await call(node.url, 'GET', '/sysClient/list', { auth: admin });
    expect(list).toMatchObject({ status: 200, code: 200, data: { total: 2 } });
  });

  test('as query parameters of a GET and of a POST', async () => {
    const { node, acme } = await nodeWithTenants();
    const credentials = { sysAccount: 'acme', authCode: acme };
    expectToken(
      await call(node.url, 'GET', '/sysClient/getToken', { query: { ...credentials, ...user } }),
    );
    expectToken(
      await call(node.url, 'POST', '/sysClient/getToken', { query: credentials, body: user }),
    );
    const list = await call(node.url, 'GET', '/user/list', { query: credentials });
    expect(list).toMatchObject({ status: 200, code: 200, data: { list: [], total: 0 } });
  });

  test('as JSON body fields', async () => {
    const { node, acme } = await nodeWithTenants();
    expectToken(
      await call(node.url, 'POST', '/sysClient/getToken', {
        body: { sysAccount: 'acme', authCode: acme, ...user },
      }),
    );
  });

  test('as a form body', async () => {
    const { node, acme } = await nodeWithTenants();
    const form = new URLSearchParams({ sysAccount: 'acme', authCode: acme, ...user });
    const result = await send(node, 'POST', '/sysClient/getToken', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expectToken(result);

    const message = new URLSearchParams({
      sysAccount: 'acme',
      authCode: acme,
      receiverId: 'alice',
      message: 'sent as a form',
      msgType: '3',
    });
    const sent = await send(node, 'POST', '/msg/sendMsg', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: message.toString(),
    });
    expect(sent).toMatchObject({ status: 200, code: 200, data: { delivered: false } });
    const read = await call(node.url, 'GET', '/msg/getMsg', {
      auth: node.tenantAuth('acme', acme),
      query: { senderId: 'system', receiverId: 'alice' },
    });
    expect(read.data.msgList[0]).toMatchObject({ message: 'sent as a form', msgType: 3 });
  });

  test('a wrong form authCode is refused like any other', async () => {
    const { node } = await nodeWithTenants();
    const form = new URLSearchParams({ sysAccount: 'acme', authCode: 'nope', ...user });
    const result = await send(node, 'POST', '/sysClient/getToken', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(result).toMatchObject({ status: 401, code: 1003, data: null });
  });
});
