// The copy-paste client of the README (chat.mjs), run verbatim as child
// processes against a real node: what a user who copies it sees.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  ChatProcess,
  chatFolder,
  killChats,
  readmeChatClient,
  removeChatFolder,
  writeToken,
} from './helpers/chat.js';
import { startTestNode, stopTestNodes, type TestNode } from './helpers/node.js';
import { call } from './helpers/rest.js';

let folder: string | undefined;

afterEach(async () => {
  await killChats();
  await stopTestNodes();
  if (folder) removeChatFolder(folder);
  folder = undefined;
});

// A node with tenant acme, and a token file for each of `users`.
async function setUp(...users: string[]) {
  const node = await startTestNode();
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  const tenantAuth = node.tenantAuth('acme', created.data.authCode);
  const dir = chatFolder();
  folder = dir;
  for (const userId of users) {
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth: tenantAuth,
      body: { userId, appPlatform: 'web' },
    });
    writeToken(dir, userId, `${issued.data.token}\n`);
  }
  return { node, dir, tenantAuth };
}

async function chat(node: TestNode, dir: string, me: string, them: string) {
  const client = new ChatProcess(dir, me, them, node.url);
  await client.waitFor('stdout', `connected as ${me}; each line you type goes to ${them}`);
  return client;
}

test('the README names chat.mjs before a js block that is the client', () => {
  const code = readmeChatClient();
  expect(code).toContain("from 'ws'");
  expect(code.split('\n').length).toBeLessThan(65);
});

test('a line typed in one client is printed by the other; the sender sees the ack', async () => {
  const { node, dir } = await setUp('alice', 'bob');
  const alice = await chat(node, dir, 'alice', 'bob');
  const bob = await chat(node, dir, 'bob', 'alice');

  alice.type('hi bob');
  await bob.waitFor('stdout', 'alice: hi bob\n');
  await alice.waitFor('stdout', '  (delivered)\n');
  bob.type('hi alice');
  await alice.waitFor('stdout', 'bob: hi alice\n');
  await bob.waitFor('stdout', '  (delivered)\n');

  expect(bob.lines).toEqual([
    'connected as bob; each line you type goes to alice',
    'alice: hi bob',
    '  (delivered)',
  ]);
});

test('a client that comes back shows exactly what it missed', async () => {
  const { node, dir } = await setUp('alice', 'bob');
  const alice = await chat(node, dir, 'alice', 'bob');
  let bob = await chat(node, dir, 'bob', 'alice');
  alice.type('before');
  await bob.waitFor('stdout', 'alice: before\n');

  // Ctrl-D: bob says goodbye, and the node closes normally.
  bob.leave();
  await bob.waitFor('stderr', 'connection closed: 1000 bye');
  expect(await bob.exited).toBe(0);
  alice.type('while you were away');
  await alice.waitFor('stdout', '  (stored; bob is offline)\n');
  expect(readFileSync(path.join(dir, 'bob.seq'), 'utf8')).toBe('1');

  bob = await chat(node, dir, 'bob', 'alice');
  await bob.waitFor('stdout', 'alice: while you were away\n');
  alice.type('welcome back');
  await bob.waitFor('stdout', 'alice: welcome back\n');

  expect(bob.lines).toEqual([
    'connected as bob; each line you type goes to alice',
    'alice: while you were away',
    'alice: welcome back',
  ]);
  // The file is written right after the line is printed; once bob has
  // exited it holds what he saw last.
  bob.leave();
  expect(await bob.exited).toBe(0);
  expect(readFileSync(path.join(dir, 'bob.seq'), 'utf8')).toBe('3');
});

test('more missed messages than one sync reply holds are all shown, in order', async () => {
  const { node, dir, tenantAuth } = await setUp('bob');
  const texts = Array.from({ length: 150 }, (_, i) => `message ${i + 1}`);
  for (const message of texts) {
    await call(node.url, 'POST', '/msg/sendMsg', {
      auth: tenantAuth,
      body: { senderId: 'alice', receiverId: 'bob', message },
    });
  }

  const bob = await chat(node, dir, 'bob', 'alice');
  await bob.waitFor('stdout', 'alice: message 150\n');

  expect(bob.lines.slice(1)).toEqual(texts.map((text) => `alice: ${text}`));
  bob.leave();
  expect(await bob.exited).toBe(0);
  expect(readFileSync(path.join(dir, 'bob.seq'), 'utf8')).toBe('150');
});

test('a refused token prints the HTTP status and prim code, without a stack trace', async () => {
  const { node, dir } = await setUp();
  writeToken(dir, 'mallory', 'not-a-token\n');

  const mallory = new ChatProcess(dir, 'mallory', 'alice', node.url);

  expect(await mallory.exited).toBe(1);
  expect(mallory.stderr).toMatch(/^refused: HTTP 401, code 1003: .+\n$/);
  expect(mallory.stdout).toBe('');
});

test('a client without its token file says how to run it', async () => {
  const { node, dir } = await setUp();

  const nobody = new ChatProcess(dir, 'nobody', 'alice', node.url);

  expect(await nobody.exited).toBe(2);
  expect(nobody.stderr).toBe('usage: node chat.mjs <me> <them>, with a token in <me>.token\n');
});

test('a node that drains ends the client with the close code and reason', async () => {
  const { node, dir } = await setUp('alice');
  const alice = await chat(node, dir, 'alice', 'bob');

  await node.stop();

  expect(await alice.exited).toBe(1);
  expect(alice.stderr).toBe('connection closed: 4000 server draining; reconnect now\n');
});
