// The README walkthrough, step by step, through the real CLI: init, a
// tenant, tokens, `prim serve`, two users chatting, the backend's send and
// history, and a message that waits across a restart until bob syncs.
import { rmSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import { CliProcess, freePort, killCliProcesses, onlyJson, runCli } from './helpers/cli.js';
import { closeClients, connectUser } from './helpers/client.js';
import { tempDir } from './helpers/node.js';

let dir: string | undefined;

afterEach(async () => {
  closeClients();
  await killCliProcesses();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function serve(folder: string): Promise<CliProcess> {
  const node = new CliProcess(folder, ['serve']);
  await node.waitForStderr(/serving http:\/\/\S+/);
  return node;
}

test('two users chat, and a message sent while bob is away waits for his sync', async () => {
  dir = tempDir('prim-walkthrough-');
  const folder = dir;
  const prim = (...args: string[]) => runCli(folder, args);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  expect((await prim('init', '--yes', '--http-port', String(port))).code).toBe(0);
  const tenant = await prim('tenant', 'create', 'acme', '--json');
  expect(onlyJson(tenant)).toMatchObject({ account: 'acme' });
  const alice = await prim('token', 'issue', '--tenant', 'acme', '--user', 'alice');
  const bob = await prim('token', 'issue', '--tenant', 'acme', '--user', 'bob');
  expect([alice.code, bob.code]).toEqual([0, 0]);

  let node = await serve(folder);
  const a = await connectUser(url, alice.stdout.trim());
  const b = await connectUser(url, bob.stdout.trim());
  expect(a.welcome.msg).toMatchObject({ userId: 'alice', platform: 'web', inboxSeq: 0 });
  expect(b.welcome.msg).toMatchObject({ userId: 'bob', platform: 'web', inboxSeq: 0 });

  a.client.send({ seq: '1', action: 'msg', msg: { receiverId: 'bob', message: 'hi' } });
  const ack = await a.client.next('ack');
  expect(ack.seq).toBe('1');
  expect(ack.msg).toMatchObject({ inboxSeq: 1, delivered: true });
  const hi = await b.client.next('msg');
  expect(hi.msg).toMatchObject({ message: 'hi', senderInfo: { userId: 'alice' }, inboxSeq: 1 });

  const sent = await prim(
    'msg',
    'send',
    '--tenant',
    'acme',
    '--from',
    'alice',
    '--to',
    'bob',
    '--text',
    'hello',
    '--json',
  );
  expect(onlyJson(sent)).toMatchObject({ inboxSeq: 2, delivered: true });
  const hello = await b.client.next('msg');
  expect(hello.msg).toMatchObject({ message: 'hello', inboxSeq: 2 });

  const history = await prim(
    'msg',
    'history',
    '--tenant',
    'acme',
    '--between',
    'alice',
    'bob',
    '--json',
  );
  expect(onlyJson(history).messages.map((m: { message: string }) => m.message)).toEqual([
    'hi',
    'hello',
  ]);

  // Bob leaves; what alice sends now waits in his inbox.
  const lastSeen = hello.msg.inboxSeq;
  b.client.close();
  await b.client.closed;
  const away = await a.client.request('msg', { receiverId: 'bob', message: 'are you there?' });
  expect(away.msg).toMatchObject({ inboxSeq: 3, delivered: false });

  node.signal('SIGTERM');
  expect(await node.exited).toBe(0);
  expect((await a.client.closed).code).toBe(4000);

  node = await serve(folder);
  const back = await connectUser(url, bob.stdout.trim());
  expect(back.welcome.msg.inboxSeq).toBe(lastSeen + 1);
  const sync = await back.client.request('sync', { since: lastSeen });
  expect(sync.action).toBe('sync');
  expect(sync.msg.hasMore).toBe(false);
  expect(sync.msg.messages).toHaveLength(1);
  expect(sync.msg.messages[0]).toMatchObject({
    message: 'are you there?',
    inboxSeq: lastSeen + 1,
    senderInfo: { userId: 'alice' },
  });

  node.signal('SIGTERM');
  expect(await node.exited).toBe(0);
});
