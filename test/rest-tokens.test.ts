// Connection tokens over REST: getToken, updateTokenVal and exit.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients, connect, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

const HOUR = 3_600_000;

async function nodeWithTenant() {
  const node = await startTestNode();
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  return { node, auth: node.tenantAuth('acme', created.data.authCode) };
}

async function getToken(node: TestNode, auth: string, body: Record<string, unknown>) {
  const issued = await call(node.url, 'POST', '/sysClient/getToken', { auth, body });
  expect(issued).toMatchObject({ status: 200, code: 200 });
  return issued.data.token as string;
}

async function refusedUpgrade(node: TestNode, token: string) {
  const error = await connect(node.url, token).then(
    () => {
      throw new Error('the upgrade was accepted');
    },
    (err: { status: number; body: { code: number; msg: string } }) => err,
  );
  return { status: error.status, code: error.body.code, msg: error.body.msg };
}

// expiresAt is whole seconds (the JWT exp), so it may fall up to 1 s short.
function expectExpiry(expiresAt: number, from: number, to: number, ttlMs: number) {
  expect(expiresAt % 1000).toBe(0);
  expect(expiresAt).toBeGreaterThan(from + ttlMs - 1000);
  expect(expiresAt).toBeLessThanOrEqual(to + ttlMs);
}

describe('getToken', () => {
  test('POST with JSON gives {token, expiresAt} for the user, 12h by default', async () => {
    const { node, auth } = await nodeWithTenant();
    const before = Date.now();
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'WEB', nickname: 'Alice', avatar: 'https://a/1.png' },
    });
    const after = Date.now();
    expect(issued).toMatchObject({ status: 200, code: 200, msg: 'ok' });
    expect(Object.keys(issued.data).sort()).toEqual(['expiresAt', 'token']);
    expectExpiry(issued.data.expiresAt, before, after, 12 * HOUR);

    expect(decodeProtectedHeader(issued.data.token)).toMatchObject({ alg: 'HS256', kid: 'acme' });
    expect(decodeJwt(issued.data.token)).toMatchObject({
      sub: 'alice',
      plt: 'web',
      nick: 'Alice',
      avt: 'https://a/1.png',
      exp: issued.data.expiresAt / 1000,
    });
    const session = await connectUser(node.url, issued.data.token);
    expect(session.welcome.msg).toMatchObject({ userId: 'alice', platform: 'web', inboxSeq: 0 });
  });

  test('GET with query parameters gives a token too', async () => {
    const { node, auth } = await nodeWithTenant();
    const issued = await call(node.url, 'GET', '/sysClient/getToken', {
      auth,
      query: { userId: 'bob', appPlatform: 'ios' },
    });
    expect(issued).toMatchObject({ status: 200, code: 200 });
    expect(decodeJwt(issued.data.token)).toMatchObject({ sub: 'bob', plt: 'ios' });
    const session = await connectUser(node.url, issued.data.token);
    expect(session.welcome.msg).toMatchObject({ userId: 'bob', platform: 'ios' });
  });

  test('a userId of 128 characters is accepted', async () => {
    const { node, auth } = await nodeWithTenant();
    const token = await getToken(node, auth, { userId: 'u'.repeat(128), appPlatform: 'web' });
    expect(decodeJwt(token).sub).toBe('u'.repeat(128));
  });

  test.each([
    ['empty', '', 'userId "" is not allowed'],
    ['129 characters', 'u'.repeat(129), 'userId a 129-character string is not allowed'],
    ['a control character', 'al\u0007ice', 'is not allowed'],
  ])('a userId that is %s is 400/1002', async (_name, userId, text) => {
    const { node, auth } = await nodeWithTenant();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId, appPlatform: 'web' },
    });
    expect(refused).toMatchObject({ status: 400, code: 1002, data: null });
    expect(refused.msg).toContain(text);
    expect(refused.msg).toContain('1–128 characters');
  });

  test('an unknown platform is 400/1001 and lists the allowed ones', async () => {
    const { node, auth } = await nodeWithTenant();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'fax' },
    });
    expect(refused).toEqual({
      status: 400,
      code: 1001,
      msg:
        'platform "fax" is not allowed; use one of web, android, ios, desktop ' +
        '(config key platforms)',
      data: null,
    });
  });

  test('a missing appPlatform is 400/1001', async () => {
    const { node, auth } = await nodeWithTenant();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice' },
    });
    expect(refused).toEqual({
      status: 400,
      code: 1001,
      msg: 'appPlatform is required',
      data: null,
    });
  });

  test('a ttl above tokens.maxTtl is 400/1001 naming the setting', async () => {
    const { node, auth } = await nodeWithTenant();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'web', ttl: '31d' },
    });
    expect(refused).toMatchObject({ status: 400, code: 1001, data: null });
    expect(refused.msg).toContain(
      'ttl of 31d is not allowed; it must be at least 1s and at most 30d',
    );
    expect(refused.msg).toContain('at most 30d (config key tokens.maxTtl)');
  });

  test('a configured tokens.maxTtl is what limits the ttl', async () => {
    const node = await startTestNode({
      PRIM_TOKENS_MAX_TTL: '2h',
      PRIM_TOKENS_DEFAULT_TTL: '1h',
    });
    const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.adminAuth,
      body: { account: 'acme' },
    });
    const auth = node.tenantAuth('acme', created.data.authCode);
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'web', ttl: 7201 },
    });
    expect(refused).toMatchObject({ status: 400, code: 1001 });
    expect(refused.msg).toContain('at most 2h');
    await getToken(node, auth, { userId: 'alice', appPlatform: 'web', ttl: '2h' });
  });

  test.each([
    ['zero', 0, 'must be at least 1s'],
    ['not a duration', 'soon', 'ttl: "soon" is not a duration'],
  ])('a ttl that is %s is 400/1001', async (_name, ttl, text) => {
    const { node, auth } = await nodeWithTenant();
    const refused = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'web', ttl },
    });
    expect(refused).toMatchObject({ status: 400, code: 1001, data: null });
    expect(refused.msg).toContain(text);
  });

  test.each([
    ['a duration', '1h', HOUR],
    ['seconds as a number', 600, 600_000],
    ['seconds as a string', '900', 900_000],
  ])('a ttl given as %s sets expiresAt', async (_name, ttl, ttlMs) => {
    const { node, auth } = await nodeWithTenant();
    const before = Date.now();
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId: 'alice', appPlatform: 'web', ttl },
    });
    expect(issued).toMatchObject({ status: 200, code: 200 });
    expectExpiry(issued.data.expiresAt, before, Date.now(), ttlMs);
    expect(decodeJwt(issued.data.token).exp).toBe(issued.data.expiresAt / 1000);
  });
});

describe('updateTokenVal', () => {
  test('gives a new token for the same user that carries the new nickname', async () => {
    const { node, auth } = await nodeWithTenant();
    const old = await getToken(node, auth, { userId: 'alice', appPlatform: 'ios', nickname: 'Al' });
    const before = Date.now();
    const renewed = await call(node.url, 'POST', '/sysClient/updateTokenVal', {
      auth,
      body: { token: old, nickname: 'Alice B.', ttl: '1h' },
    });
    expect(renewed).toMatchObject({ status: 200, code: 200 });
    expect(renewed.data.token).not.toBe(old);
    expectExpiry(renewed.data.expiresAt, before, Date.now(), HOUR);
    expect(decodeJwt(renewed.data.token)).toMatchObject({ sub: 'alice', plt: 'ios' });

    const bob = await connectUser(
      node.url,
      await getToken(node, auth, {
        userId: 'bob',
        appPlatform: 'web',
      }),
    );
    const alice = await connectUser(node.url, renewed.data.token);
    expect(alice.welcome.msg).toMatchObject({ userId: 'alice', platform: 'ios' });
    const ack = await alice.client.request('msg', { receiverId: 'bob', message: 'renamed' });
    expect(ack.action).toBe('ack');
    const pushed = await bob.client.next('msg');
    expect(pushed.msg.senderInfo).toEqual({ userId: 'alice', nickname: 'Alice B.', avatar: '' });
  });

  test('keeps nickname and avatar when none are given; the old token connects', async () => {
    const { node, auth } = await nodeWithTenant();
    const old = await getToken(node, auth, {
      userId: 'alice',
      appPlatform: 'web',
      nickname: 'Al',
      avatar: 'https://a/1.png',
    });
    const renewed = await call(node.url, 'POST', '/sysClient/updateTokenVal', {
      auth,
      body: { token: old },
    });
    expect(renewed).toMatchObject({ status: 200, code: 200 });
    expect(decodeJwt(renewed.data.token)).toMatchObject({ nick: 'Al', avt: 'https://a/1.png' });

    const session = await connectUser(node.url, old);
    expect(session.welcome.msg.userId).toBe('alice');
  });

  test('a token that does not verify is 401/1003', async () => {
    const { node, auth } = await nodeWithTenant();
    const refused = await call(node.url, 'POST', '/sysClient/updateTokenVal', {
      auth,
      body: { token: 'not.a.token' },
    });
    expect(refused).toMatchObject({ status: 401, code: 1003, data: null });
    const missing = await call(node.url, 'POST', '/sysClient/updateTokenVal', { auth, body: {} });
    expect(missing).toEqual({ status: 400, code: 1001, msg: 'token is required', data: null });
  });
});

describe('exit', () => {
  test('revokes tokens issued before it; a token issued after it connects', async () => {
    const { node, auth } = await nodeWithTenant();
    const old = await getToken(node, auth, { userId: 'alice', appPlatform: 'web' });
    const exited = await call(node.url, 'POST', '/sysClient/exit', {
      auth,
      body: { userId: 'alice' },
    });
    expect(exited).toEqual({
      status: 200,
      code: 200,
      msg: 'ok',
      data: { userId: 'alice', platform: 'all', closed: 0 },
    });

    expect(await refusedUpgrade(node, old)).toEqual({
      status: 401,
      code: 1016,
      msg: 'the token was revoked; ask for a new one',
    });
    const fresh = await getToken(node, auth, { userId: 'alice', appPlatform: 'web' });
    const session = await connectUser(node.url, fresh);
    expect(session.welcome.msg.userId).toBe('alice');
  });

  test('with appPlatform closes only that platform with 4503, in any case', async () => {
    const { node, auth } = await nodeWithTenant();
    const webToken = await getToken(node, auth, { userId: 'alice', appPlatform: 'web' });
    const iosToken = await getToken(node, auth, { userId: 'alice', appPlatform: 'ios' });
    const web = await connectUser(node.url, webToken);
    const ios = await connectUser(node.url, iosToken);

    const exited = await call(node.url, 'POST', '/sysClient/exit', {
      auth,
      body: { userId: 'alice', appPlatform: 'Web' },
    });
    expect(exited.data).toEqual({ userId: 'alice', platform: 'web', closed: 1 });
    expect((await web.client.next('exit')).msg).toEqual({ reason: 'kicked' });
    expect(await web.client.closed).toEqual({ code: 4503, reason: 'kicked' });
    expect(await ios.client.request('ping')).toMatchObject({ action: 'ok' });

    expect(await refusedUpgrade(node, webToken)).toMatchObject({ status: 401, code: 1016 });
    ios.client.close();
    await ios.client.closed;
    const again = await connectUser(node.url, iosToken);
    expect(again.welcome.msg.platform).toBe('ios');
  });

  test.each([
    ['appPlatform all', { appPlatform: 'all' }],
    ['appPlatform ALL', { appPlatform: 'ALL' }],
    ['no appPlatform', {}],
  ])('with %s closes every platform with 4503', async (_name, extra) => {
    const { node, auth } = await nodeWithTenant();
    const tokens = [];
    const sessions = [];
    for (const appPlatform of ['web', 'android', 'desktop']) {
      tokens.push(await getToken(node, auth, { userId: 'alice', appPlatform }));
      sessions.push(await connectUser(node.url, tokens.at(-1)!));
    }
    const bob = await connectUser(
      node.url,
      await getToken(node, auth, {
        userId: 'bob',
        appPlatform: 'web',
      }),
    );

    const exited = await call(node.url, 'POST', '/sysClient/exit', {
      auth,
      body: { userId: 'alice', ...extra },
    });
    expect(exited.data).toEqual({ userId: 'alice', platform: 'all', closed: 3 });
    for (const session of sessions) {
      expect(await session.client.closed).toEqual({ code: 4503, reason: 'kicked' });
    }
    for (const token of tokens) {
      expect(await refusedUpgrade(node, token)).toMatchObject({ status: 401, code: 1016 });
    }
    expect(await bob.client.request('ping')).toMatchObject({ action: 'ok' });
  });

  test("with prim's token parameter exits that token's user and platform", async () => {
    const { node, auth } = await nodeWithTenant();
    const webToken = await getToken(node, auth, { userId: 'alice', appPlatform: 'web' });
    const iosToken = await getToken(node, auth, { userId: 'alice', appPlatform: 'ios' });
    const web = await connectUser(node.url, webToken);
    const ios = await connectUser(node.url, iosToken);

    const exited = await call(node.url, 'POST', '/sysClient/exit', {
      auth,
      body: { token: webToken },
    });
    expect(exited).toMatchObject({ status: 200, code: 200 });
    expect(exited.data).toEqual({ userId: 'alice', platform: 'web', closed: 1 });
    expect(await web.client.closed).toEqual({ code: 4503, reason: 'kicked' });
    expect(await ios.client.request('ping')).toMatchObject({ action: 'ok' });
    expect(await refusedUpgrade(node, webToken)).toMatchObject({ status: 401, code: 1016 });
  });

  test('a bad userId or platform is refused', async () => {
    const { node, auth } = await nodeWithTenant();
    const noUser = await call(node.url, 'POST', '/sysClient/exit', { auth, body: {} });
    expect(noUser).toMatchObject({ status: 400, code: 1002, data: null });
    const badPlatform = await call(node.url, 'POST', '/sysClient/exit', {
      auth,
      body: { userId: 'alice', appPlatform: 'fax' },
    });
    expect(badPlatform).toMatchObject({ status: 400, code: 1001, data: null });
    expect(badPlatform.msg).toContain('platform "fax" is not allowed');
  });
});

describe('forged tokens', () => {
  test('are refused alike whether their tenant exists, is disabled or not', async () => {
    const { node, auth } = await nodeWithTenant();
    await call(node.url, 'POST', '/sysClient/createSysClient', {
      auth: node.adminAuth,
      body: { account: 'closed' },
    });
    await call(node.url, 'POST', '/sysClient/disable', {
      auth: node.adminAuth,
      body: { account: 'closed' },
    });
    const genuine = await getToken(node, auth, { userId: 'alice', appPlatform: 'web' });
    const [, payload] = genuine.split('.');
    const forged = (kid: string) => {
      const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid })).toString('base64url');
      return `${header}.${payload}.${'A'.repeat(43)}`;
    };

    const refusal = {
      status: 401,
      code: 1003,
      msg: 'the token signature does not verify',
    };
    for (const kid of ['acme', 'closed', 'nobody', 'Not An Account']) {
      expect(await refusedUpgrade(node, forged(kid)), kid).toEqual(refusal);
    }
  });
});
