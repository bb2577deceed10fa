// The README walkthrough, step by step and in its order, through the real
// CLI and the README's own chat.mjs: init, a tenant, token files, `prim
// serve`, two users chatting, bob leaving, the backend's send and history,
// a restart of the node, and bob coming back to exactly what he missed.
//
// The commands are the README's, unchanged; only the port differs, set as
// PRIM_HTTP_PORT for every prim command and CHAT_URL for the clients.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { ChatProcess, chatFolder, killChats, removeChatFolder } from './helpers/chat.js';
import { CliProcess, freePort, killCliProcesses, runCli } from './helpers/cli.js';

let dir: string | undefined;

afterEach(async () => {
  await killChats();
  await killCliProcesses();
  if (dir) removeChatFolder(dir);
  dir = undefined;
});

test('two users chat, and what bob misses while away waits for him across a restart', async () => {
  dir = chatFolder();
  const folder = dir;
  const port = await freePort();
  const env = { PRIM_HTTP_PORT: String(port) };
  const url = `http://127.0.0.1:${port}`;
  const prim = (...args: string[]) => runCli(folder, args, env);
  const serve = async () => {
    const node = new CliProcess(folder, ['serve'], env);
    await node.waitForStderr(/serving http:\/\/\S+/);
    return node;
  };
  const chat = async (me: string, them: string) => {
    const client = new ChatProcess(folder, me, them, url);
    await client.waitFor('stdout', `connected as ${me}; each line you type goes to ${them}`);
    return client;
  };
  // `prim token issue … > <user>.token`
  const issueInto = async (user: string) => {
    const issued = await prim('token', 'issue', '--tenant', 'acme', '--user', user);
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    writeFileSync(path.join(folder, `${user}.token`), issued.stdout);
  };

  // Terminal 1: set-up, then the node.
  expect((await prim('init', '--yes')).code).toBe(0);
  const tenant = await prim('tenant', 'create', 'acme');
  expect(tenant.code).toBe(0);
  expect(tenant.stdout).toMatch(/^account +acme\nauthCode +\S{32,}\n$/);
  await issueInto('alice');
  await issueInto('bob');
  let node = await serve();

  // Terminals 2 and 3: alice and bob.
  let alice = await chat('alice', 'bob');
  let bob = await chat('bob', 'alice');
  alice.type('hi bob');
  await bob.waitFor('stdout', 'alice: hi bob\n');
  await alice.waitFor('stdout', '  (delivered)\n');
  bob.type('hi alice');
  await alice.waitFor('stdout', 'bob: hi alice\n');

  // Bob leaves (Ctrl-D) and misses a message from alice and one from the
  // backend.
  bob.leave();
  await bob.waitFor('stderr', 'connection closed: 1000 bye\n');
  alice.type('are you there?');
  await alice.waitFor('stdout', '  (stored; bob is offline)\n');
  const sent = await prim(
    'msg',
    'send',
    '--tenant',
    'acme',
    '--to',
    'bob',
    '--text',
    'hello from the backend',
  );
  expect(sent.code).toBe(0);
  expect(sent.stdout).toMatch(
    /^message \S+ stored; bob is offline and gets it on the next sync\n$/,
  );
  const history = await prim('msg', 'history', '--tenant', 'acme', '--between', 'alice', 'bob');
  expect(history.code).toBe(0);
  expect(history.stdout.split('\n').map((line) => line.replace(/^\S+ {2}\S+ {2}/, ''))).toEqual([
    'alice → bob  hi bob',
    'bob → alice  hi alice',
    'alice → bob  are you there?',
    '',
  ]);

  // Ctrl-C in terminal 1 drains the node; alice's client is told why.
  node.signal('SIGINT');
  expect(await node.exited).toBe(0);
  await alice.waitFor('stderr', 'connection closed: 4000 server draining; reconnect now\n');
  expect(await alice.exited).toBe(1);
  node = await serve();

  // Bob comes back to exactly what he missed; alice missed nothing.
  bob = await chat('bob', 'alice');
  await bob.waitFor('stdout', 'system: hello from the backend\n');
  alice = await chat('alice', 'bob');
  alice.type('welcome back');
  await bob.waitFor('stdout', 'alice: welcome back\n');
  await alice.waitFor('stdout', '  (delivered)\n');
  expect(bob.lines).toEqual([
    'connected as bob; each line you type goes to alice',
    'alice: are you there?',
    'system: hello from the backend',
    'alice: welcome back',
  ]);
  expect(alice.lines).toEqual([
    'connected as alice; each line you type goes to bob',
    '  (delivered)',
  ]);

  node.signal('SIGINT');
  expect(await node.exited).toBe(0);
}, 60_000);
