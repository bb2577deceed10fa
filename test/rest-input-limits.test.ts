// Input that prim refuses at the boundary, with the reason a user reads.
import { afterEach, expect, test } from 'vitest';
import { closeClients, connect } from './helpers/client.js';
import { stopTestNodes } from './helpers/node.js';
import { call } from './helpers/rest.js';
import { startWithTenant } from './helpers/tenant.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

test('no token is issued for the system user, whose inbox holds backend messages', async () => {
  const { node, auth } = await startWithTenant();

  const refused = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'system', appPlatform: 'web' },
  });

  expect(refused).toMatchObject({
    status: 400,
    code: 1002,
    msg:
      'userId "system" is reserved for what the tenant\'s backend sends; ' +
      'no token is issued or accepted for it',
  });
});

test('text with half a surrogate pair is refused, not stored changed', async () => {
  const { node, auth } = await startWithTenant();

  const refused = await call(node.url, 'POST', '/msg/sendMsg', {
    auth,
    body: { receiverId: 'bob', message: 'a\ud800b' },
  });
  const badUser = await call(node.url, 'POST', '/msg/sendMsg', {
    auth,
    body: { receiverId: 'b\udc00', message: 'hi' },
  });

  expect(refused).toMatchObject({
    status: 400,
    code: 1001,
    msg: 'message is not valid Unicode text (it holds half of a surrogate pair)',
  });
  expect(badUser).toMatchObject({ status: 400, code: 1002 });
});

test('nickname, avatar and phone number are bounded', async () => {
  const { node, auth } = await startWithTenant();

  const nickname = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'alice', appPlatform: 'web', nickname: 'n'.repeat(65) },
  });
  const avatar = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId: 'alice', appPlatform: 'web', avatar: 'a'.repeat(1025) },
  });
  const phone = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'globex', phoneNum: '1'.repeat(33) },
  });

  expect(nickname).toMatchObject({
    status: 400,
    code: 1001,
    msg: 'nickname is not allowed; use text of at most 64 characters',
  });
  expect(avatar.msg).toBe('avatar is not allowed; use text of at most 1024 characters');
  expect(phone.msg).toBe('phoneNum is not allowed; use text of at most 32 characters');
});

test('exit without a userId says it is required', async () => {
  const { node, auth } = await startWithTenant();

  const refused = await call(node.url, 'POST', '/sysClient/exit', { auth, body: {} });

  expect(refused).toMatchObject({ status: 400, code: 1002, msg: 'userId is required' });
});

test('a token a backend minted for the system user is refused at /acc', async () => {
  const { node } = await startWithTenant();
  const { SignJWT } = await import('jose');
  const created = await call(node.url, 'POST', '/sysClient/rotateSecret', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'system', plt: 'web', iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'HS256', kid: 'acme' })
    .sign(new TextEncoder().encode(created.data.authCode));

  const refused = await connect(node.url, token).catch((err) => err);

  expect(refused.status).toBe(401);
  expect(refused.body.code).toBe(1003);
});

test('a message at the size limit is taken however its JSON escapes it', async () => {
  const { node, auth } = await startWithTenant();
  const limit = node.context.config.limits.maxFrameBytes;
  // Every character written as a \u escape, as some JSON encoders do.
  const escape = (text: string) =>
    [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const send = (message: string) =>
    fetch(`${node.url}/msg/sendMsg`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: `{"receiverId":"bob","message":"${escape(message)}"}`,
    }).then(async (response) => ({ status: response.status, ...(await response.json()) }));

  const fits = await send('\u0001'.repeat(limit));
  const over = await send('\u0001'.repeat(limit + 1));

  expect(fits).toMatchObject({ status: 200, code: 200 });
  expect(over).toMatchObject({
    status: 413,
    code: 1013,
    msg: `message is ${limit + 1} bytes; at most ${limit} are allowed (config key limits.maxFrameBytes)`,
  });
});
