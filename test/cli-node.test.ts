import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { CliProcess, freePort, killCliProcesses, onlyJson, runCli } from './helpers/cli.js';
import { closeClients, connectUser } from './helpers/client.js';
import { startTestNode, stopTestNodes, tempDir } from './helpers/node.js';

const dirs: string[] = [];

afterEach(async () => {
  closeClients();
  await killCliProcesses();
  await stopTestNodes();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = tempDir('prim-cli-node-');
  dirs.push(dir);
  return dir;
}

// An in-process node, and a prim.yaml that points the CLI at its port and
// its store. The file is written after the start: the node reads its own
// config from the same folder.
async function nodeWithCli() {
  const node = await startTestNode();
  writeFileSync(
    path.join(node.dataDir, 'prim.yaml'),
    `dataDir: ${node.dataDir}\nhttp:\n  port: ${node.port}\n`,
  );
  const prim = (...args: string[]) => runCli(node.dataDir, args);
  await prim('tenant', 'create', 'acme');
  const token = async (user: string) =>
    (await prim('token', 'issue', '--tenant', 'acme', '--user', user)).stdout.trim();
  return { node, prim, token };
}

test('user list shows the online users of a tenant with their platforms', async () => {
  const { node, prim, token } = await nodeWithCli();
  await connectUser(node.url, await token('alice'));
  await connectUser(node.url, await token('bob'));

  const result = await prim('user', 'list', '--tenant', 'acme');
  expect(result.code).toBe(0);
  expect(result.stdout).toBe('USER ID  PLATFORMS\nalice    web\nbob      web\n');

  const json = await prim('user', 'list', '--tenant', 'acme', '--json');
  expect(onlyJson(json)).toEqual({
    users: [
      { userId: 'alice', platforms: ['web'] },
      { userId: 'bob', platforms: ['web'] },
    ],
    total: 2,
  });
});

test('user kick closes the sessions with 4503 and revokes the token', async () => {
  const { node, prim, token } = await nodeWithCli();
  const aliceToken = await token('alice');
  const alice = await connectUser(node.url, aliceToken);

  const result = await prim('user', 'kick', '--tenant', 'acme', '--user', 'alice', '--json');
  expect(result.code).toBe(0);
  expect(onlyJson(result)).toEqual({ userId: 'alice', platform: 'all', closed: 1 });
  expect((await alice.client.closed).code).toBe(4503);

  const verify = await prim('token', 'verify', aliceToken, '--json');
  expect(verify.code).toBe(1);
  expect(onlyJson(verify).error).toMatchObject({ code: 1016, kind: 'TOKEN_REVOKED' });

  const human = await prim(
    'user',
    'kick',
    '--tenant',
    'acme',
    '--user',
    'bob',
    '--platform',
    'ios',
  );
  expect(human.code).toBe(0);
  expect(human.stdout).toBe('kicked bob on ios: 0 sessions closed\n');
});

test('msg send delivers to an online user and says so', async () => {
  const { node, prim, token } = await nodeWithCli();
  const bob = await connectUser(node.url, await token('bob'));

  const result = await prim(
    'msg',
    'send',
    '--tenant',
    'acme',
    '--to',
    'bob',
    '--text',
    'hi',
    '--json',
  );
  expect(result.code).toBe(0);
  const ack = onlyJson(result);
  expect(ack).toEqual({
    id: expect.any(String),
    inboxSeq: 1,
    time: expect.any(Number),
    delivered: true,
  });

  const pushed = await bob.client.next('msg');
  expect(pushed.msg).toMatchObject({ id: ack.id, message: 'hi', receiverId: 'bob' });
  expect(pushed.msg.senderInfo.userId).toBe('system');

  const offline = await prim('msg', 'send', '--tenant', 'acme', '--to', 'carol', '--text', 'yo');
  expect(offline.code).toBe(0);
  expect(offline.stdout).toMatch(
    /^message \d+ stored; carol is offline and gets it on the next sync\n$/,
  );
});

test('msg history shows both directions of a conversation, oldest first', async () => {
  const { prim } = await nodeWithCli();
  const send = (from: string, to: string, text: string) =>
    prim('msg', 'send', '--tenant', 'acme', '--from', from, '--to', to, '--text', text);
  await send('alice', 'bob', 'one');
  await send('bob', 'alice', 'two');
  await send('alice', 'carol', 'elsewhere');

  const result = await prim('msg', 'history', '--tenant', 'acme', '--between', 'alice', 'bob');
  expect(result.code).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^\S+Z {2}\d+ {2}alice → bob {2}one$/);
  expect(lines[1]).toMatch(/^\S+Z {2}\d+ {2}bob → alice {2}two$/);

  const json = await prim(
    'msg',
    'history',
    '--tenant',
    'acme',
    '--between',
    'alice',
    'bob',
    '--limit',
    '1',
    '--json',
  );
  const page = onlyJson(json);
  expect(page.hasMore).toBe(true);
  expect(page.messages.map((m: { message: string }) => m.message)).toEqual(['one']);
  expect(json.stderr).toContain(`later messages: --after ${page.messages[0].id}`);
});

test('msg history checks its flags before it calls the node', async () => {
  const { prim } = await nodeWithCli();

  const one = await prim('msg', 'history', '--tenant', 'acme', '--between', 'alice');
  expect(one.code).toBe(2);
  expect(one.stderr).toContain('--between takes exactly two user ids, not 1');

  const limit = await prim(
    'msg',
    'history',
    '--tenant',
    'acme',
    '--between',
    'a',
    'b',
    '--limit',
    '0',
  );
  expect(limit.code).toBe(2);
  expect(limit.stderr).toContain('--limit: "0" is not allowed; use a whole number from 1 to 500');
});

test("the node's refusal is a failure with its message", async () => {
  const { prim } = await nodeWithCli();

  const result = await prim(
    'msg',
    'send',
    '--tenant',
    'acme',
    '--to',
    'bob',
    '--text',
    'x',
    '--from',
    '\u0001',
    '--json',
  );

  expect(result.code).toBe(1);
  expect(onlyJson(result).error).toMatchObject({ code: 1002, kind: 'BAD_USER_ID' });
});

test('without a running node the client commands name the URL and prim serve', async () => {
  const dir = folder();
  const port = await freePort();
  writeFileSync(path.join(dir, 'prim.yaml'), `http:\n  port: ${port}\n`);
  await runCli(dir, ['tenant', 'create', 'acme']);

  const result = await runCli(dir, ['user', 'list', '--tenant', 'acme']);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`error: no node is running at http://127.0.0.1:${port}`);
  expect(result.stderr).toContain('start one with `prim serve`');
});

test('client commands need a fixed http.port', async () => {
  const dir = folder();
  writeFileSync(path.join(dir, 'prim.yaml'), 'http:\n  port: 0\n');
  await runCli(dir, ['tenant', 'create', 'acme']);

  const result = await runCli(dir, ['msg', 'send', '--tenant', 'acme', '--to', 'b', '--text', 'x']);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain('http.port is 0');
});

test('client commands name a tenant the store does not know', async () => {
  const { prim } = await nodeWithCli();

  const result = await prim('user', 'list', '--tenant', 'nobody');

  expect(result.code).toBe(1);
  expect(result.stderr).toContain('error: tenant "nobody" does not exist');
});

async function serveFolder(config = ''): Promise<{ dir: string; port: number }> {
  const dir = folder();
  const port = await freePort();
  writeFileSync(path.join(dir, 'prim.yaml'), `http:\n  port: ${port}\n${config}`);
  return { dir, port };
}

test('prim serve runs a node until SIGTERM drains it, then exits with 0', async () => {
  const { dir, port } = await serveFolder('adminKey: serve-test-admin-key-0123\n');
  const serve = new CliProcess(dir, ['serve']);

  await serve.waitForStderr(/serving http:\/\/127\.0\.0\.1:\d+ · store sqlite · single node/);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(200);
  expect(serve.stderr).not.toContain('admin key');

  serve.signal('SIGTERM');
  expect(await serve.exited).toBe(0);
  expect(serve.stderr).toContain('SIGTERM: draining');
  expect(serve.stdout).toBe('');
});

test('prim serve stops on SIGINT too', async () => {
  const { dir } = await serveFolder();
  const serve = new CliProcess(dir, ['serve']);
  await serve.waitForStderr(/serving http/);

  serve.signal('SIGINT');

  expect(await serve.exited).toBe(0);
});

test('a generated admin key is printed once, with its file', async () => {
  const { dir } = await serveFolder();
  const first = new CliProcess(dir, ['serve']);
  await first.waitForStderr(/serving http/);
  first.signal('SIGTERM');
  expect(await first.exited).toBe(0);

  const file = path.join(dir, '.prim', 'admin.key');
  const key = readFileSync(file, 'utf8').trim();
  expect(first.stderr).toContain(`admin key (shown only now; kept in ${file}): ${key}`);

  const second = new CliProcess(dir, ['serve']);
  await second.waitForStderr(/serving http/);
  second.signal('SIGTERM');
  expect(await second.exited).toBe(0);
  expect(second.stderr).not.toContain(key);
});

test('prim serve on a port in use fails with 1 and names http.port', async () => {
  const busy = await startTestNode();
  const { dir } = await serveFolder();
  writeFileSync(path.join(dir, 'prim.yaml'), `http:\n  port: ${busy.port}\n`);

  const result = await runCli(dir, ['serve']);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`error: http.port ${busy.port} is in use`);
  expect(result.stderr).toContain('change http.port (or PRIM_HTTP_PORT)');
});

test('prim serve with an invalid config value fails before starting', async () => {
  const { dir } = await serveFolder('ws:\n  sessionPolicy: sometimes\n');

  const result = await runCli(dir, ['serve']);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain('error: ws.sessionPolicy: "sometimes" is not allowed');
});
