// Health, node state, presence and the API's own documentation.
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients, connect, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

async function createTenant(node: TestNode, account: string) {
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account },
  });
  return node.tenantAuth(account, created.data.authCode);
}

async function online(node: TestNode, auth: string, userId: string, appPlatform = 'web') {
  const issued = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId, appPlatform },
  });
  return connectUser(node.url, issued.data.token);
}

// acme: alice on web and ios, bob on web; globex: carol on android.
async function populated() {
  const node = await startTestNode();
  const acme = await createTenant(node, 'acme');
  const globex = await createTenant(node, 'globex');
  await online(node, acme, 'alice', 'web');
  await online(node, acme, 'alice', 'ios');
  await online(node, acme, 'bob', 'web');
  await online(node, globex, 'carol', 'android');
  return { node, acme, globex };
}

describe('health', () => {
  test('/healthz answers ok without credentials', async () => {
    const node = await startTestNode();
    const health = await call(node.url, 'GET', '/healthz');
    expect(health).toEqual({ status: 200, code: 200, msg: 'ok', data: { status: 'ok' } });
  });

  test('/readyz is 200 on a ready node', async () => {
    const node = await startTestNode();
    const ready = await call(node.url, 'GET', '/readyz');
    expect(ready).toEqual({ status: 200, code: 200, msg: 'ok', data: { ready: true } });
  });

  test('/readyz is 503 and /acc refuses connections while the node drains', async () => {
    const node = await startTestNode();
    const auth = await createTenant(node, 'acme');
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'web' },
    });
    // Hold the drain open until the node has been asked, so that the
    // request surely falls inside it.
    const gateway = node.context.gateway;
    const drain = gateway.drain.bind(gateway);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    gateway.drain = async (timeoutMs) => {
      await released;
      return drain(timeoutMs);
    };
    const stopped = node.stop();

    try {
      const draining = await call(node.url, 'GET', '/readyz');
      expect(draining).toEqual({
        status: 503,
        code: 1004,
        msg: 'not ready: node is draining',
        data: { ready: false },
      });
      const refused = await connect(node.url, issued.data.token).catch((err) => err);
      expect(refused).toMatchObject({
        status: 503,
        body: { code: 1004, msg: 'node is draining; connect again', data: null },
      });
    } finally {
      release();
      await stopped;
    }
  });
});

describe('/system/state', () => {
  test('as admin describes the node with a count of its live sessions', async () => {
    const { node } = await populated();
    const state = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
    expect(state).toMatchObject({ status: 200, code: 200, msg: 'ok' });
    expect(state.data).toMatchObject({
      nodeId: node.context.nodeId,
      state: 'ready',
      connections: 4,
      tenantsOnline: 2,
      store: 'sqlite',
      cluster: false,
    });
    expect(state.data.nodeId).toMatch(/^node-[0-9a-f]{8}$/);
    expect(state.data.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(typeof state.data.version).toBe('string');
  });

  test('follows sessions as the node closes them', async () => {
    const node = await startTestNode();
    const acme = await createTenant(node, 'acme');
    const alice = await online(node, acme, 'alice');
    const before = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
    expect(before.data).toMatchObject({ connections: 1, tenantsOnline: 1 });
    const exited = await call(node.url, 'POST', '/sysClient/exit', {
      auth: acme,
      body: { userId: 'alice' },
    });
    expect(exited.data.closed).toBe(1);
    const after = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
    expect(after.data).toMatchObject({ connections: 0, tenantsOnline: 0 });
    expect((await alice.client.closed).code).toBe(4503);
  });

  test('as a tenant shows its own counts only', async () => {
    const { node, acme, globex } = await populated();
    const own = await call(node.url, 'GET', '/system/state', { auth: acme });
    expect(own).toEqual({
      status: 200,
      code: 200,
      msg: 'ok',
      data: { account: 'acme', users: 2, sessions: 3 },
    });
    const other = await call(node.url, 'GET', '/system/state', { auth: globex });
    expect(other.data).toEqual({ account: 'globex', users: 1, sessions: 1 });
  });
});

describe('presence', () => {
  test("/user/list pages the tenant's online users with their platforms", async () => {
    const { node, acme } = await populated();
    const all = await call(node.url, 'GET', '/user/list', { auth: acme });
    expect(all).toMatchObject({ status: 200, code: 200 });
    expect(all.data).toEqual({
      list: [
        { userId: 'alice', platforms: ['ios', 'web'] },
        { userId: 'bob', platforms: ['web'] },
      ],
      total: 2,
      page: 1,
      pageSize: 100,
    });
    const second = await call(node.url, 'GET', '/user/list', {
      auth: acme,
      query: { page: 2, pageSize: 1 },
    });
    expect(second.data).toEqual({
      list: [{ userId: 'bob', platforms: ['web'] }],
      total: 2,
      page: 2,
      pageSize: 1,
    });
  });

  test('/user/online answers per platform, and for all of them', async () => {
    const { node, acme } = await populated();
    const ask = (query: Record<string, string>) =>
      call(node.url, 'GET', '/user/online', { auth: acme, query });

    const any = await ask({ userId: 'alice' });
    expect(any).toMatchObject({ status: 200, code: 200 });
    expect(any.data).toEqual({ userId: 'alice', online: true, platforms: ['ios', 'web'] });
    expect((await ask({ userId: 'alice', appPlatform: 'all' })).data).toEqual(any.data);
    expect((await ask({ userId: 'alice', appPlatform: 'ALL' })).data).toEqual(any.data);
    expect((await ask({ userId: 'alice', appPlatform: 'ios' })).data).toEqual({
      userId: 'alice',
      online: true,
      platforms: ['ios'],
    });
    expect((await ask({ userId: 'alice', appPlatform: 'android' })).data).toEqual({
      userId: 'alice',
      online: false,
      platforms: [],
    });
    // carol is online, but in another tenant.
    expect((await ask({ userId: 'carol' })).data).toEqual({
      userId: 'carol',
      online: false,
      platforms: [],
    });
  });

  test('/user/online refuses an unknown platform and a missing userId', async () => {
    const { node, acme } = await populated();
    const platform = await call(node.url, 'GET', '/user/online', {
      auth: acme,
      query: { userId: 'alice', appPlatform: 'fax' },
    });
    expect(platform).toMatchObject({ status: 400, code: 1001, data: null });
    expect(platform.msg).toContain('platform "fax" is not allowed');
    const user = await call(node.url, 'GET', '/user/online', { auth: acme });
    expect(user).toEqual({ status: 400, code: 1001, msg: 'userId is required', data: null });
  });

  test("/user/listUserMaps groups the tenant's users by node", async () => {
    const { node, acme, globex } = await populated();
    const maps = await call(node.url, 'GET', '/user/listUserMaps', { auth: acme });
    expect(maps).toEqual({
      status: 200,
      code: 200,
      msg: 'ok',
      data: { [node.context.nodeId]: ['alice', 'bob'] },
    });
    const other = await call(node.url, 'GET', '/user/listUserMaps', { auth: globex });
    expect(other.data).toEqual({ [node.context.nodeId]: ['carol'] });
  });
});

describe('routes and documents', () => {
  test('an unknown route is 404/1010', async () => {
    const node = await startTestNode();
    const missing = await call(node.url, 'GET', '/msg/nothing', { query: { a: 1 } });
    expect(missing).toEqual({
      status: 404,
      code: 1010,
      msg: 'no route GET /msg/nothing',
      data: null,
    });
    const wrongMethod = await call(node.url, 'GET', '/msg/sendMsg');
    expect(wrongMethod).toMatchObject({
      status: 404,
      code: 1010,
      msg: 'no route GET /msg/sendMsg',
    });
  });

  test('a URL that is not validly encoded gets 400/1001 in the envelope', async () => {
    const node = await startTestNode();
    const response = await fetch(`${node.url}/msg/getMsg%E0%A4%A`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      code: 1001,
      msg: 'the request URL is not validly encoded',
      data: null,
    });
  });

  test('a plain GET of /acc gets an envelope that says why', async () => {
    const node = await startTestNode();
    const response = await fetch(`${node.url}/acc`);
    const body = (await response.json()) as { code: number; msg: string; data: unknown };
    expect([
      [400, 1001],
      [404, 1010],
    ]).toContainEqual([response.status, body.code]);
    expect(body.msg).toMatch(/WebSocket/i);
    expect(body.data).toBeNull();
  });

  // The REST table of DESIGN.md, with the parameters each route documents.
  const table: Array<[string, string, string[]]> = [
    ['post', '/sysClient/createSysClient', ['account', 'phoneNum']],
    ['get', '/sysClient/getSysClient', ['account']],
    ['get', '/sysClient/list', ['page', 'pageSize']],
    ['post', '/sysClient/rotateSecret', ['account']],
    ['post', '/sysClient/disable', ['account']],
    ['post', '/sysClient/enable', ['account']],
    ['post', '/sysClient/getToken', ['userId', 'appPlatform', 'nickname', 'avatar', 'ttl']],
    ['get', '/sysClient/getToken', ['userId', 'appPlatform', 'nickname', 'avatar', 'ttl']],
    ['post', '/sysClient/updateTokenVal', ['token', 'nickname', 'avatar', 'ttl']],
    ['post', '/sysClient/exit', ['userId', 'appPlatform', 'token']],
    ['get', '/user/list', ['page', 'pageSize']],
    ['get', '/user/online', ['userId', 'appPlatform']],
    ['get', '/user/listUserMaps', []],
    ['post', '/msg/sendMsg', ['receiverId', 'message', 'msgType', 'msgContType', 'clientMsgId']],
    ['post', '/msg/sendMsgAll', ['message']],
    ['get', '/msg/getMsg', ['senderId', 'receiverId', 'limit', 'before', 'after']],
    ['get', '/system/state', []],
    ['get', '/healthz', []],
    ['get', '/readyz', []],
  ];

  test('/openapi.json lists every route of the design with its schema', async () => {
    const node = await startTestNode();
    const response = await fetch(`${node.url}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, any>>;
    };
    expect(document.openapi).toMatch(/^3\./);

    for (const [method, path, params] of table) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.summary, `${method} ${path}`).toEqual(expect.any(String));
      expect(operation.responses['200'], `${method} ${path}`).toBeDefined();
      const documented =
        method === 'post'
          ? Object.keys(operation.requestBody.content['application/json'].schema.properties)
          : (operation.parameters ?? []).map((p: { name: string }) => p.name);
      expect(documented, `${method} ${path}`).toEqual(expect.arrayContaining(params));
    }
    const sendMsg = document.paths['/msg/sendMsg'].post.requestBody.content;
    expect(sendMsg['application/json'].schema.required).toEqual(['receiverId', 'message']);
    // Form bodies are accepted, so they are documented too.
    for (const [method, path] of table.filter(([m]) => m === 'post')) {
      const content = document.paths[path][method].requestBody.content;
      expect(Object.keys(content), path).toEqual([
        'application/json',
        'application/x-www-form-urlencoded',
      ]);
    }
  });

  test('/docs serves the API explorer as HTML', async () => {
    const node = await startTestNode();
    const response = await fetch(`${node.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await response.text();
    expect(page).toContain('<html');
    expect(page).toContain('swagger-ui');
  });
});
