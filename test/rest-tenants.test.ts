// Tenant management over REST: /sysClient/* with the admin key.
import { SignJWT } from 'jose';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients, connect, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

async function createTenant(node: TestNode, account: string, phoneNum?: string) {
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: phoneNum === undefined ? { account } : { account, phoneNum },
  });
  expect(created.status).toBe(200);
  return created.data.authCode as string;
}

async function tokenFor(node: TestNode, auth: string, userId: string, appPlatform = 'web') {
  const issued = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId, appPlatform },
  });
  expect(issued.status).toBe(200);
  return issued.data.token as string;
}

// Resolves with the HTTP status and envelope of a refused /acc upgrade.
async function refusedUpgrade(node: TestNode, token: string) {
  const error = await connect(node.url, token).then(
    () => {
      throw new Error('the upgrade was accepted');
    },
    (err: { status: number; body: { code: number; msg: string } }) => err,
  );
  return { status: error.status, code: error.body.code, msg: error.body.msg };
}

// A token minted by the tenant backend itself, as the design allows.
function mintToken(account: string, authCode: string, userId: string) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: userId, plt: 'web', iat: now, exp: now + 600, jti: 'own-1' })
    .setProtectedHeader({ alg: 'HS256', kid: account })
    .sign(new TextEncoder().encode(authCode));
}

describe('createSysClient', () => {
  test('creates a tenant and shows its authCode once', async () => {
    const node = await startTestNode();
    const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.adminAuth,
      body: { account: 'acme', phoneNum: '+15550100' },
    });
    expect(created).toMatchObject({ status: 200, code: 200, msg: 'ok' });
    expect(created.data.account).toBe('acme');
    // 32 random bytes, base64url.
    expect(created.data.authCode).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('needs the admin key: tenant credentials are refused with 401/1003', async () => {
    const node = await startTestNode();
    const authCode = await createTenant(node, 'acme');
    const refused = await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.tenantAuth('acme', authCode),
      body: { account: 'other' },
    });
    expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
    expect(refused.msg).toContain('admin key');
    const bare = await call(node.url, 'POST', '/sysClient/createSysClient', {
      body: { account: 'other' },
    });
    expect(bare).toMatchObject({ status: 401, code: 1003 });
  });

  test('an existing account is refused with 409/1011', async () => {
    const node = await startTestNode();
    await createTenant(node, 'acme');
    const again = await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.adminAuth,
      body: { account: 'acme' },
    });
    expect(again).toMatchObject({ status: 409, code: 1011, data: null });
    expect(again.msg).toContain('"acme" already exists');
  });

  test.each(['Acme', 'a', '-acme', 'acme corp', 'x'.repeat(65)])(
    'account %j is refused with 400/1001 and the naming rule',
    async (account) => {
      const node = await startTestNode();
      const refused = await call(node.url, 'POST', '/sysClient/createSysClient', {
        auth: node.adminAuth,
        body: { account },
      });
      expect(refused).toMatchObject({ status: 400, code: 1001, data: null });
      expect(refused.msg).toContain('not allowed');
      expect(refused.msg).toContain('2–64 lowercase letters, digits, - or _');
    },
  );

  test('a missing account is refused with 400/1001 naming the parameter', async () => {
    const node = await startTestNode();
    const refused = await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.adminAuth,
      body: { phoneNum: '1' },
    });
    expect(refused).toEqual({ status: 400, code: 1001, msg: 'account is required', data: null });
  });
});

describe('getSysClient and list', () => {
  test('shows a tenant without any secret', async () => {
    const node = await startTestNode();
    const authCode = await createTenant(node, 'acme', '+15550100');
    const shown = await call(node.url, 'GET', '/sysClient/getSysClient', {
      auth: node.adminAuth,
      query: { account: 'acme' },
    });
    expect(shown).toMatchObject({ status: 200, code: 200 });
    expect(shown.data).toEqual({
      account: 'acme',
      phoneNum: '+15550100',
      disabled: false,
      createdAt: expect.any(Number),
      secretRotatedAt: null,
    });
    expect(JSON.stringify(shown)).not.toContain(authCode);
  });

  test('an unknown tenant is 404/1005', async () => {
    const node = await startTestNode();
    const missing = await call(node.url, 'GET', '/sysClient/getSysClient', {
      auth: node.adminAuth,
      query: { account: 'nobody' },
    });
    expect(missing).toMatchObject({ status: 404, code: 1005, data: null });
    expect(missing.msg).toBe('tenant "nobody" does not exist');
  });

  test('lists tenants by account, paged, with the total', async () => {
    const node = await startTestNode();
    const secrets = [];
    for (const account of ['delta', 'alpha', 'echo', 'charlie', 'bravo']) {
      secrets.push(await createTenant(node, account));
    }
    const list = (query: Record<string, number>) =>
      call(node.url, 'GET', '/sysClient/list', { auth: node.adminAuth, query });

    const first = await list({ page: 1, pageSize: 2 });
    expect(first).toMatchObject({ status: 200, code: 200 });
    expect(first.data).toMatchObject({ total: 5, page: 1, pageSize: 2 });
    expect(first.data.list.map((t: { account: string }) => t.account)).toEqual(['alpha', 'bravo']);
    const last = await list({ page: 3, pageSize: 2 });
    expect(last.data.list.map((t: { account: string }) => t.account)).toEqual(['echo']);
    const past = await list({ page: 4, pageSize: 2 });
    expect(past.data).toMatchObject({ list: [], total: 5 });

    const all = await list({});
    expect(all.data).toMatchObject({ total: 5, page: 1, pageSize: 100 });
    expect(all.data.list).toHaveLength(5);
    for (const secret of secrets) expect(JSON.stringify(all.data)).not.toContain(secret);
  });

  test('a page or page size out of range is 400/1001', async () => {
    const node = await startTestNode();
    const list = (query: Record<string, string | number>) =>
      call(node.url, 'GET', '/sysClient/list', { auth: node.adminAuth, query });
    expect(await list({ pageSize: 0 })).toEqual({
      status: 400,
      code: 1001,
      msg: 'pageSize must be >= 1',
      data: null,
    });
    expect(await list({ page: '100000000000000000000' })).toEqual({
      status: 400,
      code: 1001,
      msg: 'page must be <= 1000000',
      data: null,
    });
    expect(await list({ page: 'two' })).toMatchObject({ status: 400, code: 1001 });
  });
});

describe('rotateSecret', () => {
  test('the new authCode works for Basic auth and the old one is refused', async () => {
    const node = await startTestNode();
    const oldCode = await createTenant(node, 'acme');
    const rotated = await call(node.url, 'POST', '/sysClient/rotateSecret', {
      auth: node.adminAuth,
      body: { account: 'acme' },
    });
    expect(rotated).toMatchObject({ status: 200, code: 200 });
    expect(rotated.data.account).toBe('acme');
    expect(rotated.data.authCode).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rotated.data.authCode).not.toBe(oldCode);

    const body = { userId: 'alice', appPlatform: 'web' };
    const withNew = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.tenantAuth('acme', rotated.data.authCode),
      body,
    });
    expect(withNew).toMatchObject({ status: 200, code: 200 });
    const withOld = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: node.tenantAuth('acme', oldCode),
      body,
    });
    expect(withOld).toMatchObject({ status: 401, code: 1003, data: null });

    const shown = await call(node.url, 'GET', '/sysClient/getSysClient', {
      auth: node.adminAuth,
      query: { account: 'acme' },
    });
    expect(shown.data.secretRotatedAt).toBeGreaterThanOrEqual(shown.data.createdAt);
  });

  test('an unknown tenant is 404/1005', async () => {
    const node = await startTestNode();
    const missing = await call(node.url, 'POST', '/sysClient/rotateSecret', {
      auth: node.adminAuth,
      body: { account: 'nobody' },
    });
    expect(missing).toMatchObject({ status: 404, code: 1005, data: null });
  });

  async function rotate(node: TestNode) {
    const oldCode = await createTenant(node, 'acme');
    const oldToken = await tokenFor(node, node.tenantAuth('acme', oldCode), 'alice');
    const rotated = await call(node.url, 'POST', '/sysClient/rotateSecret', {
      auth: node.adminAuth,
      body: { account: 'acme' },
    });
    const newToken = await tokenFor(node, node.tenantAuth('acme', rotated.data.authCode), 'bob');
    return { oldToken, newToken };
  }

  test('tokens of the old secret still verify during tokens.rotationGrace', async () => {
    // The default grace of 1h cannot end while the test runs.
    const node = await startTestNode();
    const { oldToken, newToken } = await rotate(node);
    const old = await connectUser(node.url, oldToken);
    expect(old.welcome.msg).toMatchObject({ userId: 'alice', platform: 'web' });
    const current = await connectUser(node.url, newToken);
    expect(current.welcome.msg.userId).toBe('bob');
  });

  test('tokens of the old secret are refused once tokens.rotationGrace is over', async () => {
    const node = await startTestNode({ PRIM_TOKENS_ROTATION_GRACE: '300ms' });
    const { oldToken, newToken } = await rotate(node);

    // Only time ends the grace: wait until it is over by the node's record.
    const shown = await call(node.url, 'GET', '/sysClient/getSysClient', {
      auth: node.adminAuth,
      query: { account: 'acme' },
    });
    await delay(Math.max(0, shown.data.secretRotatedAt + 300 - Date.now()) + 50);

    expect(await refusedUpgrade(node, oldToken)).toEqual({
      status: 401,
      code: 1003,
      msg: 'the token signature does not verify',
    });
    const current = await connectUser(node.url, newToken);
    expect(current.welcome.msg.userId).toBe('bob');
  });
});

describe('disable and enable', () => {
  test("disabling closes the tenant's sessions with 4504 and spares others", async () => {
    const node = await startTestNode();
    const acme = node.tenantAuth('acme', await createTenant(node, 'acme'));
    const other = node.tenantAuth('other', await createTenant(node, 'other'));
    const alice = await connectUser(node.url, await tokenFor(node, acme, 'alice'));
    const bob = await connectUser(node.url, await tokenFor(node, acme, 'bob', 'ios'));
    const carol = await connectUser(node.url, await tokenFor(node, other, 'carol'));

    const disabled = await call(node.url, 'POST', '/sysClient/disable', {
      auth: node.adminAuth,
      body: { account: 'acme' },
    });
    expect(disabled).toMatchObject({ status: 200, code: 200 });
    expect(disabled.data).toMatchObject({ account: 'acme', disabled: true });

    for (const session of [alice, bob]) {
      const exit = await session.client.next('exit');
      expect(exit.msg).toEqual({ reason: 'tenant disabled' });
      expect(await session.client.closed).toEqual({ code: 4504, reason: 'tenant disabled' });
    }
    const pong = await carol.client.request('ping');
    expect(pong).toMatchObject({ action: 'ok', msg: { result: 'pong' } });
  });

  test('a disabled tenant gets 403/1014 for Basic auth and for its tokens at /acc', async () => {
    const node = await startTestNode();
    const authCode = await createTenant(node, 'acme');
    const auth = node.tenantAuth('acme', authCode);
    const issued = await tokenFor(node, auth, 'alice');
    await call(node.url, 'POST', '/sysClient/disable', {
      auth: node.adminAuth,
      body: { account: 'acme' },
    });

    const rest = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'web' },
    });
    expect(rest).toEqual({ status: 403, code: 1014, msg: 'tenant "acme" is disabled', data: null });
    const shown = await call(node.url, 'GET', '/sysClient/getSysClient', {
      auth: node.adminAuth,
      query: { account: 'acme' },
    });
    expect(shown.data.disabled).toBe(true);

    const expected = { status: 403, code: 1014, msg: 'tenant "acme" is disabled' };
    expect(await refusedUpgrade(node, issued)).toEqual(expected);
    const minted = await mintToken('acme', authCode, 'bob');
    expect(await refusedUpgrade(node, minted)).toEqual(expected);
  });

  test('enabling lets the tenant back in', async () => {
    const node = await startTestNode();
    const authCode = await createTenant(node, 'acme');
    const auth = node.tenantAuth('acme', authCode);
    const issued = await tokenFor(node, auth, 'alice');
    const admin = { auth: node.adminAuth, body: { account: 'acme' } };
    await call(node.url, 'POST', '/sysClient/disable', admin);

    const enabled = await call(node.url, 'POST', '/sysClient/enable', admin);
    expect(enabled).toMatchObject({ status: 200, code: 200 });
    expect(enabled.data).toMatchObject({ account: 'acme', disabled: false });
    expect(await tokenFor(node, auth, 'bob')).toMatch(/^ey/);
    const alice = await connectUser(node.url, issued);
    expect(alice.welcome.msg.userId).toBe('alice');
    const minted = await connectUser(node.url, await mintToken('acme', authCode, 'carol'));
    expect(minted.welcome.msg.userId).toBe('carol');
  });

  test('disable and enable of an unknown tenant are 404/1005', async () => {
    const node = await startTestNode();
    for (const path of ['/sysClient/disable', '/sysClient/enable']) {
      const missing = await call(node.url, 'POST', path, {
        auth: node.adminAuth,
        body: { account: 'nobody' },
      });
      expect(missing).toMatchObject({ status: 404, code: 1005, data: null });
    }
  });
});
