// Messages over REST: sendMsg, sendMsgAll and getMsg.
import { afterEach, describe, expect, test } from 'vitest';
import { closeClients, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(async () => {
  closeClients();
  await stopTestNodes();
});

interface Listed {
  id: string;
  message: string;
  inboxSeq: number;
  senderInfo: { userId: string };
  receiverId: string;
}

async function createTenant(node: TestNode, account: string) {
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account },
  });
  return node.tenantAuth(account, created.data.authCode);
}

async function nodeWithTenants() {
  const node = await startTestNode();
  return {
    node,
    acme: await createTenant(node, 'acme'),
    globex: await createTenant(node, 'globex'),
  };
}

async function tokenFor(node: TestNode, auth: string, userId: string, extra = {}) {
  const issued = await call(node.url, 'POST', '/sysClient/getToken', {
    auth,
    body: { userId, appPlatform: 'web', ...extra },
  });
  return issued.data.token as string;
}

async function online(node: TestNode, auth: string, userId: string, appPlatform = 'web') {
  return connectUser(node.url, await tokenFor(node, auth, userId, { appPlatform }));
}

function sendMsg(node: TestNode, auth: string, body: Record<string, unknown>) {
  return call(node.url, 'POST', '/msg/sendMsg', { auth, body });
}

describe('sendMsg', () => {
  test('as a tenant the sender is "system" by default and the receiver gets it', async () => {
    const { node, acme } = await nodeWithTenants();
    const bob = await online(node, acme, 'bob');
    const before = Date.now();
    const sent = await sendMsg(node, acme, { receiverId: 'bob', message: 'hello', msgType: 2 });
    expect(sent).toMatchObject({ status: 200, code: 200, msg: 'ok' });
    expect(sent.data).toEqual({
      id: expect.stringMatching(/^\d+$/),
      inboxSeq: 1,
      time: expect.any(Number),
      delivered: true,
    });
    expect(sent.data.time).toBeGreaterThanOrEqual(before);

    const pushed = await bob.client.next('msg');
    expect(pushed.seq).toBe(sent.data.id);
    expect(pushed.msg).toEqual({
      id: sent.data.id,
      inboxSeq: 1,
      senderInfo: { userId: 'system', nickname: '', avatar: '' },
      receiverId: 'bob',
      message: 'hello',
      msgType: 2,
      msgContType: 1,
      time: sent.data.time,
      dateTime: new Date(sent.data.time).toISOString(),
    });
  });

  test('as a tenant it may name the sender and its nickname', async () => {
    const { node, acme } = await nodeWithTenants();
    const bob = await online(node, acme, 'bob');
    const sent = await sendMsg(node, acme, {
      senderId: 'shop',
      senderNickname: 'The Shop',
      receiverId: 'bob',
      message: 'your order shipped',
    });
    expect(sent).toMatchObject({ status: 200, data: { delivered: true } });
    const pushed = await bob.client.next('msg');
    expect(pushed.msg.senderInfo).toEqual({ userId: 'shop', nickname: 'The Shop', avatar: '' });
  });

  test("with a user token the sender is the token's user whatever senderId says", async () => {
    const { node, acme } = await nodeWithTenants();
    const token = await tokenFor(node, acme, 'alice', { nickname: 'Alice' });
    const alice = await connectUser(node.url, token);
    const bob = await online(node, acme, 'bob');
    const sent = await sendMsg(node, `Bearer ${token}`, {
      senderId: 'mallory',
      senderNickname: 'Not Alice',
      receiverId: 'bob',
      message: 'from alice',
    });
    expect(sent).toMatchObject({ status: 200, code: 200, data: { delivered: true } });

    const pushed = await bob.client.next('msg');
    expect(pushed.msg.senderInfo).toEqual({ userId: 'alice', nickname: 'Alice', avatar: '' });
    // The sender's own sessions see what was sent on its behalf.
    const echoed = await alice.client.next('msg');
    expect(echoed.msg).toMatchObject({ id: sent.data.id, inboxSeq: 1, message: 'from alice' });

    const history = await call(node.url, 'GET', '/msg/getMsg', {
      auth: acme,
      query: { senderId: 'mallory', receiverId: 'bob' },
    });
    expect(history.data.msgList).toEqual([]);
  });

  test('a user token that does not verify is 401/1003', async () => {
    const { node } = await nodeWithTenants();
    const refused = await sendMsg(node, 'Bearer not-a-token', { receiverId: 'bob', message: 'x' });
    expect(refused).toEqual({ status: 401, code: 1003, msg: 'the token is not a JWT', data: null });
  });

  test('to an offline user it is stored with delivered false', async () => {
    const { node, acme } = await nodeWithTenants();
    const sent = await sendMsg(node, acme, { receiverId: 'bob', message: 'later' });
    expect(sent).toMatchObject({ status: 200, code: 200, data: { delivered: false, inboxSeq: 1 } });

    const bob = await online(node, acme, 'bob');
    expect(bob.welcome.msg.inboxSeq).toBe(1);
    const synced = await bob.client.request('sync', { since: 0 });
    expect(synced.msg.messages.map((m: Listed) => m.message)).toEqual(['later']);
  });

  test('the same clientMsgId is stored once and the resend gets the same ack', async () => {
    const { node, acme } = await nodeWithTenants();
    const bob = await online(node, acme, 'bob');
    const body = { senderId: 'shop', receiverId: 'bob', message: 'once', clientMsgId: 'c-1' };
    const first = await sendMsg(node, acme, body);
    const again = await sendMsg(node, acme, body);
    expect(first.data.duplicate).toBeUndefined();
    expect(again).toMatchObject({ status: 200, code: 200 });
    expect(again.data).toMatchObject({
      id: first.data.id,
      inboxSeq: first.data.inboxSeq,
      time: first.data.time,
      duplicate: true,
    });

    await sendMsg(node, acme, { ...body, message: 'next', clientMsgId: 'c-2' });
    expect((await bob.client.next('msg')).msg.message).toBe('once');
    expect((await bob.client.next('msg')).msg).toMatchObject({ message: 'next', inboxSeq: 2 });
  });

  test('a message over limits.maxFrameBytes is 413/1013 naming the setting', async () => {
    const { node, acme } = await nodeWithTenants();
    // 2 bytes each in UTF-8: too large in bytes, though not in characters.
    const refused = await sendMsg(node, acme, { receiverId: 'bob', message: 'é'.repeat(32_769) });
    expect(refused).toEqual({
      status: 413,
      code: 1013,
      msg: 'message is 65538 bytes; at most 65536 are allowed (config key limits.maxFrameBytes)',
      data: null,
    });
    const huge = await sendMsg(node, acme, { receiverId: 'bob', message: 'x'.repeat(500_000) });
    expect(huge).toEqual({
      status: 413,
      code: 1013,
      msg: 'the request body is too large',
      data: null,
    });
    const fits = await sendMsg(node, acme, { receiverId: 'bob', message: 'x'.repeat(65_536) });
    expect(fits).toMatchObject({ status: 200, code: 200 });
  });

  test('a missing receiverId or message is 400/1001', async () => {
    const { node, acme } = await nodeWithTenants();
    const noReceiver = await sendMsg(node, acme, { message: 'to nobody' });
    expect(noReceiver).toEqual({
      status: 400,
      code: 1001,
      msg: 'receiverId is required',
      data: null,
    });
    const empty = await sendMsg(node, acme, { receiverId: 'bob', message: '' });
    expect(empty).toEqual({
      status: 400,
      code: 1001,
      msg: 'message must be a non-empty string',
      data: null,
    });
    const badType = await sendMsg(node, acme, { receiverId: 'bob', message: 'x', msgType: 'a' });
    expect(badType).toMatchObject({ status: 400, code: 1001, msg: 'msgType must be integer' });
  });

  test('a body that is not JSON is 400/1001', async () => {
    const { node, acme } = await nodeWithTenants();
    const response = await fetch(`${node.url}/msg/sendMsg`, {
      method: 'POST',
      headers: { authorization: acme, 'content-type': 'application/json' },
      body: '{"receiverId": "bob", "message": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      code: 1001,
      msg: 'the request body is not valid JSON',
      data: null,
    });
  });
});

describe('sendMsgAll', () => {
  test("reaches every session of the tenant with a broadcast frame, no one else's", async () => {
    const { node, acme, globex } = await nodeWithTenants();
    const receivers = [
      await online(node, acme, 'alice', 'web'),
      await online(node, acme, 'alice', 'ios'),
      await online(node, acme, 'bob', 'web'),
    ];
    const carol = await online(node, globex, 'carol');
    const before = Date.now();

    const sent = await call(node.url, 'POST', '/msg/sendMsgAll', {
      auth: acme,
      body: { message: 'maintenance at noon', msgType: 9 },
    });
    expect(sent).toEqual({ status: 200, code: 200, msg: 'ok', data: { sessions: 3 } });
    for (const { client } of receivers) {
      const frame = await client.next('broadcast');
      expect(frame.seq).toBe('');
      expect(frame.msg).toEqual({
        senderInfo: { userId: 'system', nickname: '', avatar: '' },
        message: 'maintenance at noon',
        msgType: 9,
        msgContType: 1,
        time: expect.any(Number),
        dateTime: new Date(frame.msg.time).toISOString(),
      });
      expect(frame.msg.time).toBeGreaterThanOrEqual(before);
    }

    // Frames on one connection keep their order: had the broadcast reached
    // carol, it would come before this message.
    await sendMsg(node, globex, { receiverId: 'carol', message: 'marker' });
    const next = await carol.client.next((frame) => frame.action !== 'welcome');
    expect(next).toMatchObject({ action: 'msg', msg: { message: 'marker' } });
  });

  test('with nobody online it reaches no session and stores nothing', async () => {
    const { node, acme } = await nodeWithTenants();
    const sent = await call(node.url, 'POST', '/msg/sendMsgAll', {
      auth: acme,
      body: { message: 'anyone?' },
    });
    expect(sent).toMatchObject({ status: 200, code: 200, data: { sessions: 0 } });
    const bob = await online(node, acme, 'bob');
    expect(bob.welcome.msg.inboxSeq).toBe(0);
  });

  test('a missing message is 400/1001', async () => {
    const { node, acme } = await nodeWithTenants();
    const refused = await call(node.url, 'POST', '/msg/sendMsgAll', { auth: acme, body: {} });
    expect(refused).toEqual({ status: 400, code: 1001, msg: 'message is required', data: null });
  });
});

describe('getMsg', () => {
  // alice and bob write to each other; alice also writes to carol.
  async function conversation(node: TestNode, auth: string) {
    const ids: string[] = [];
    const lines = [
      ['alice', 'bob', 'one'],
      ['bob', 'alice', 'two'],
      ['alice', 'carol', 'elsewhere'],
      ['alice', 'bob', 'three'],
      ['bob', 'alice', 'four'],
      ['alice', 'bob', 'five'],
    ];
    for (const [senderId, receiverId, message] of lines) {
      const sent = await sendMsg(node, auth, { senderId, receiverId, message });
      expect(sent.status).toBe(200);
      if (receiverId !== 'carol') ids.push(sent.data.id);
    }
    return ids;
  }

  function getMsg(node: TestNode, auth: string, query: Record<string, string | number>) {
    return call(node.url, 'GET', '/msg/getMsg', {
      auth,
      query: { senderId: 'alice', receiverId: 'bob', ...query },
    });
  }

  const texts = (list: Listed[]) => list.map((m) => m.message);

  test('reads both directions of one conversation, oldest first', async () => {
    const { node, acme } = await nodeWithTenants();
    const ids = await conversation(node, acme);
    const read = await getMsg(node, acme, {});
    expect(read).toMatchObject({ status: 200, code: 200, data: { hasMore: false } });
    expect(texts(read.data.msgList)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(read.data.msgList.map((m: Listed) => m.id)).toEqual(ids);
    expect(read.data.msgList[1]).toMatchObject({
      senderInfo: { userId: 'bob' },
      receiverId: 'alice',
      // As alice, the first-named user, numbers it: her second message.
      inboxSeq: 2,
    });

    const reversed = await getMsg(node, acme, { senderId: 'bob', receiverId: 'alice' });
    expect(texts(reversed.data.msgList)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(reversed.data.msgList.map((m: Listed) => m.inboxSeq)).toEqual([1, 2, 3, 4, 5]);
  });

  test('pages forward with limit and after', async () => {
    const { node, acme } = await nodeWithTenants();
    const ids = await conversation(node, acme);
    const first = await getMsg(node, acme, { limit: 2 });
    expect(texts(first.data.msgList)).toEqual(['one', 'two']);
    expect(first.data.hasMore).toBe(true);
    const second = await getMsg(node, acme, { limit: 2, after: ids[1] });
    expect(texts(second.data.msgList)).toEqual(['three', 'four']);
    expect(second.data.hasMore).toBe(true);
    const last = await getMsg(node, acme, { limit: 2, after: ids[3] });
    expect(texts(last.data.msgList)).toEqual(['five']);
    expect(last.data.hasMore).toBe(false);
    const past = await getMsg(node, acme, { after: ids[4] });
    expect(past.data).toEqual({ msgList: [], hasMore: false });
  });

  test('pages backward with before, each page oldest first', async () => {
    const { node, acme } = await nodeWithTenants();
    const ids = await conversation(node, acme);
    const page = await getMsg(node, acme, { limit: 2, before: ids[4] });
    expect(texts(page.data.msgList)).toEqual(['three', 'four']);
    expect(page.data.hasMore).toBe(true);
    const oldest = await getMsg(node, acme, { limit: 2, before: ids[2] });
    expect(texts(oldest.data.msgList)).toEqual(['one', 'two']);
    expect(oldest.data.hasMore).toBe(false);
  });

  test('before and after together are 400/1001', async () => {
    const { node, acme } = await nodeWithTenants();
    const ids = await conversation(node, acme);
    const refused = await getMsg(node, acme, { before: ids[4], after: ids[0] });
    expect(refused).toEqual({
      status: 400,
      code: 1001,
      msg: 'give before or after, not both',
      data: null,
    });
  });

  test('bad paging parameters are 400/1001', async () => {
    const { node, acme } = await nodeWithTenants();
    const word = await getMsg(node, acme, { after: 'latest' });
    expect(word).toMatchObject({
      status: 400,
      code: 1001,
      msg: 'after must match pattern "^[0-9]+$"',
    });
    const big = await getMsg(node, acme, { limit: 501 });
    expect(big).toMatchObject({ status: 400, code: 1001, msg: 'limit must be <= 500' });
    const noPeer = await call(node.url, 'GET', '/msg/getMsg', {
      auth: acme,
      query: { senderId: 'alice' },
    });
    expect(noPeer).toMatchObject({ status: 400, code: 1001, msg: 'receiverId is required' });
  });

  test('never crosses tenants, even for the same user ids', async () => {
    const { node, acme, globex } = await nodeWithTenants();
    await conversation(node, acme);
    await sendMsg(node, globex, { senderId: 'bob', receiverId: 'alice', message: 'globex' });

    const inGlobex = await getMsg(node, globex, {});
    expect(texts(inGlobex.data.msgList)).toEqual(['globex']);
    expect(inGlobex.data.msgList[0].inboxSeq).toBe(1);
    const inAcme = await getMsg(node, acme, {});
    expect(texts(inAcme.data.msgList)).toEqual(['one', 'two', 'three', 'four', 'five']);
  });
});
