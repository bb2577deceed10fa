// The README's "Run a cluster" commands, run as a user pastes them into a
// shell: three background nodes, one Redis, `prim nodes`, a tenant and
// tokens, a message across nodes, a node stopped, and everything stopped.
// Only the ports are moved to free ones, `npx prim` runs this checkout's
// bin/prim, and the interactive chat clients are left to
// readme-client.test.ts (a test client sends instead).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { closeClients, connect } from './helpers/client.js';
import { tempDir } from './helpers/node.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'prim');

function section(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Run a cluster');
  return readme.slice(start, readme.indexOf('\n## ', start + 1));
}

const shBlocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
// An inline `command` of the prose, outside the sh blocks.
function inlineCommand(text: string, contains: string): string {
  const prose = text.replace(/```sh\n[\s\S]*?```/g, '');
  const command = [...prose.matchAll(/`([^`]+)`/g)]
    .map((m) => m[1]!.replace(/\s+/g, ' '))
    .find((code) => code.includes(contains));
  if (!command) throw new Error(`the README section has no \`…${contains}…\` command`);
  return command;
}

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// A prefix P such that P1, P2 and P3 are free ports (the README's 810$n).
async function freePrefix(avoid: string[]): Promise<string> {
  for (;;) {
    const prefix = String(2000 + Math.floor(Math.random() * 4000));
    if (avoid.includes(prefix)) continue;
    const ports = [1, 2, 3].map((n) => Number(`${prefix}${n}`));
    if ((await Promise.all(ports.map(free))).every(Boolean)) return prefix;
  }
}

async function freeRedisPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (await free(port)) return port;
  }
}

interface Ports {
  redis: number;
  http: string;
  grpc: string;
}

// The user's shell, with the README's ports moved and `npx prim` this
// checkout's CLI.
function localise(script: string, ports: Ports): string {
  return script
    .replaceAll('npx prim', `node ${BIN}`)
    .replaceAll('6380', String(ports.redis))
    .replaceAll('810$n', `${ports.http}$n`)
    .replaceAll('910$n', `${ports.grpc}$n`)
    .replace(/ws:\/\/127\.0\.0\.1:810(\d)/g, `ws://127.0.0.1:${ports.http}$1`);
}

function sh(
  cwd: string,
  script: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-e', '-c', script],
      { cwd, timeout: 60_000, env: { ...process.env, NO_COLOR: '1', CI: '1' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let cleanUp: (() => Promise<void>) | undefined;
afterEach(async () => {
  closeClients();
  await cleanUp?.();
  cleanUp = undefined;
});

test('the README cluster walkthrough runs as written', async () => {
  const text = section();
  const [setUp, tokens, stopAll] = shBlocks(text);
  expect([setUp, tokens, stopAll].every(Boolean)).toBe(true);
  const http = await freePrefix([]);
  const ports: Ports = { redis: await freeRedisPort(), http, grpc: await freePrefix([http]) };
  const dir = tempDir('prim-readme-cluster-');
  const run = (script: string) => sh(dir, localise(script, ports));
  cleanUp = async () => {
    // Whatever a failed run left: the nodes by their pid files, then Redis.
    for (const n of [1, 2, 3]) {
      const pidFile = path.join(dir, 'cluster', `n${n}`, 'prim.pid');
      if (!existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sh(dir, `redis-cli -p ${ports.redis} shutdown nosave || true`);
    rmSync(dir, { recursive: true, force: true });
  };

  const started = await run(setUp!);
  expect(started.stderr).not.toMatch(/error/i);
  expect(started.code).toBe(0);
  for (const n of [1, 2, 3]) {
    expect(started.stdout).toMatch(new RegExp(`^n${n}\\s+127\\.0\\.0\\.1:${ports.grpc}${n}`, 'm'));
  }

  // The chat clients are interactive: a test client stands in for each.
  const issued = await run(tokens!.replace(/^CHAT_URL=.*$/gm, ''));
  expect(issued.code).toBe(0);
  const token = (user: string) => readFileSync(path.join(dir, `${user}.token`), 'utf8').trim();
  const alice = await connect(`http://127.0.0.1:${ports.http}1`, token('alice'));
  const bob = await connect(`http://127.0.0.1:${ports.http}2`, token('bob'));
  await alice.next('welcome');
  await bob.next('welcome');
  const ack = await alice.request('msg', { receiverId: 'bob', message: 'hi bob' });
  expect(ack.msg.delivered).toBe(true);
  expect((await bob.next('msg')).msg.message).toBe('hi bob');

  const list = await run(inlineCommand(text, 'prim user list'));
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/^alice\s+web$/m);
  expect(list.stdout).toMatch(/^bob\s+web$/m);

  const stopped = await run(inlineCommand(text, 'prim stop'));
  expect(stopped.code).toBe(0);
  expect(stopped.stdout).toMatch(/^stopped \(pid \d+\)/);
  expect(await bob.closed).toMatchObject({ code: 4000 });

  const status = await run(inlineCommand(text, 'prim status'));
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/^nodeId\s+n1$/m);

  const ended = await run(stopAll!);
  expect(ended.code).toBe(0);
  expect(existsSync(path.join(dir, 'cluster'))).toBe(false);
}, 90_000);
