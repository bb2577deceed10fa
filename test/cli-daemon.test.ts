import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, expect, test } from 'vitest';
import { freePort, onlyJson, runCli } from './helpers/cli.js';
import { startTestNode, stopTestNodes, tempDir } from './helpers/node.js';
import { envWithoutPrim, killProcesses, WatchedProcess } from './helpers/process.js';

const dirs: string[] = [];
const servers: Server[] = [];

// Whether the process is gone; a zombie (exited, not yet reaped) is.
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

// A background node belongs to no test process, so nothing announces its
// exit: it is looked at until it is gone.
async function untilGone(pid: number): Promise<void> {
  while (!gone(pid)) await delay(50);
}

function pidFile(dir: string): string {
  return path.join(dir, '.prim', 'prim.pid');
}

class FakeStart extends WatchedProcess {
  get pid(): number {
    return this.child.pid!;
  }
}

function startLock(dir: string): string {
  return path.join(dir, '.prim', 'prim.start.lock');
}

// Whatever a failed test left running in its folders is killed.
afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    const file = pidFile(dir);
    const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : NaN;
    // Some tests write this process's own pid as one that is no prim node.
    if (Number.isInteger(pid) && pid !== process.pid && !gone(pid)) {
      process.kill(pid, 'SIGKILL');
      await untilGone(pid);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
  await stopTestNodes();
  await killProcesses();
});

async function daemonFolder(port?: number): Promise<{ dir: string; port: number }> {
  const dir = tempDir('prim-cli-daemon-');
  dirs.push(dir);
  const httpPort = port ?? (await freePort());
  writeFileSync(path.join(dir, 'prim.yaml'), `http:\n  port: ${httpPort}\n`);
  return { dir, port: httpPort };
}

const prim = (dir: string, ...args: string[]) => runCli(dir, args, { PRIM_LOG_LEVEL: 'info' });

async function started(): Promise<{ dir: string; port: number; pid: number }> {
  const { dir, port } = await daemonFolder();
  const result = await prim(dir, 'start', '--json');
  expect(result.code).toBe(0);
  return { dir, port, pid: onlyJson(result).pid };
}

test('start returns once a background node is ready, with its pid file and log', async () => {
  const { dir, port } = await daemonFolder();

  const result = await prim(dir, 'start', '--json');

  expect(result.code).toBe(0);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(200);
  const logFile = path.join(dir, '.prim', 'prim.log');
  const { pid } = onlyJson(result);
  expect(onlyJson(result)).toEqual({ pid, url: `http://127.0.0.1:${port}`, logFile });
  expect(readFileSync(pidFile(dir), 'utf8')).toBe(`${pid}\nhttp://127.0.0.1:${port}\n`);
  expect(gone(pid)).toBe(false);

  expect(statSync(path.join(dir, '.prim')).mode & 0o777).toBe(0o700);
  expect(statSync(pidFile(dir)).mode & 0o777).toBe(0o600);
  expect(statSync(logFile).mode & 0o777).toBe(0o600);
  expect(readFileSync(logFile, 'utf8')).toContain(`serving http://127.0.0.1:${port}`);

  // The generated admin key is shown by start, and the log never has it.
  const keyFile = path.join(dir, '.prim', 'admin.key');
  const key = readFileSync(keyFile, 'utf8').trim();
  expect(result.stderr).toContain(`admin key (shown only now; kept in ${keyFile}): ${key}`);
  expect(readFileSync(logFile, 'utf8')).not.toContain(key);

  const human = await prim(dir, 'start');
  expect(human.code).toBe(1);
  expect(human.stderr).toContain(
    `error: a node is already running here (pid ${pid}); see prim status`,
  );
  expect(human.stderr).not.toContain(key);
});

test('start finds its node ready however much it logged first, in a log without colour', async () => {
  const { dir } = await daemonFolder();
  // Some 400 KiB of warnings about unknown keys before the node listens.
  const unknown = Array.from({ length: 6000 }, (_, i) => `unknownKey${i}PaddingPadding: 1\n`);
  writeFileSync(
    path.join(dir, 'prim.yaml'),
    readFileSync(path.join(dir, 'prim.yaml')) + unknown.join(''),
  );

  const result = await runCli(dir, ['start', '--json'], {
    PRIM_LOG_LEVEL: 'info',
    FORCE_COLOR: '1',
  });
  expect(result.code).toBe(0);
  const log = readFileSync(path.join(dir, '.prim', 'prim.log'), 'utf8');
  expect(log.length).toBeGreaterThan(256 * 1024);
  expect(log).not.toContain('\u001b[');
});

test('status finds a node started on a port from the environment', async () => {
  const { dir } = await daemonFolder();
  const port = await freePort();
  const result = await runCli(dir, ['start', '--json'], { PRIM_HTTP_PORT: String(port) });
  expect(result.code).toBe(0);

  // Without PRIM_HTTP_PORT the config names another port; the pid file
  // says where this node listens.
  const status = await prim(dir, 'status', '--json');
  expect(status.code).toBe(0);
  expect(onlyJson(status)).toMatchObject({
    running: true,
    url: `http://127.0.0.1:${port}`,
    state: expect.objectContaining({ state: 'ready' }),
  });
  expect(status.stderr).toBe('');

  // So do the commands that talk to the config's node.
  expect((await prim(dir, 'tenant', 'create', 'acme', '--json')).code).toBe(0);
  const users = await prim(dir, 'user', 'list', '--tenant', 'acme', '--json');
  expect(users.code).toBe(0);
  expect(onlyJson(users)).toEqual({ users: [], total: 0 });
});

test("status shows the running node's state, and --json one document", async () => {
  const { dir, port, pid } = await started();

  const human = await prim(dir, 'status');
  expect(human.code).toBe(0);
  const lines = human.stdout.trimEnd().split('\n');
  expect(lines.slice(0, 4)).toEqual([
    'status       running',
    `pid          ${pid}`,
    `url          http://127.0.0.1:${port}`,
    `log          ${path.join(dir, '.prim', 'prim.log')}`,
  ]);
  expect(lines[4]).toMatch(/^nodeId {7}node-[0-9a-f]{8}$/);
  expect(lines[5]).toBe('state        ready');
  expect(lines[6]).toMatch(/^uptime {7}\d+\.\ds$/);
  expect(lines[7]).toBe('connections  0');

  const json = await prim(dir, 'status', '--json');
  expect(json.code).toBe(0);
  expect(onlyJson(json)).toEqual({
    running: true,
    pid,
    url: `http://127.0.0.1:${port}`,
    logFile: path.join(dir, '.prim', 'prim.log'),
    state: expect.objectContaining({
      nodeId: expect.stringMatching(/^node-/),
      state: 'ready',
      connections: 0,
      store: 'sqlite',
    }),
  });
});

test('stop drains the node and removes the pid file; status then exits 1', async () => {
  const { dir, port, pid } = await started();

  const result = await prim(dir, 'stop');

  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(new RegExp(`^stopped \\(pid ${pid}\\) after \\d+\\.\\ds\\n$`));
  expect(gone(pid)).toBe(true);
  expect(existsSync(pidFile(dir))).toBe(false);
  const log = readFileSync(path.join(dir, '.prim', 'prim.log'), 'utf8');
  expect(log).toContain('SIGTERM: draining');
  expect(log).toContain('"msg":"node stopped"');

  const human = await prim(dir, 'status');
  expect(human.code).toBe(1);
  expect(human.stdout).toBe('');
  expect(human.stderr).toContain('error: not running');

  const json = await prim(dir, 'status', '--json');
  expect(json.code).toBe(1);
  expect(onlyJson(json)).toEqual({
    running: false,
    pid: null,
    url: `http://127.0.0.1:${port}`,
    logFile: path.join(dir, '.prim', 'prim.log'),
  });
});

test('stop without a running node says so and exits 0', async () => {
  const { dir } = await daemonFolder();

  const result = await prim(dir, 'stop');

  expect(result.code).toBe(0);
  expect(result.stdout).toBe('not running\n');
});

test('a pid file of a process that is no prim node is stale and not signalled', async () => {
  const { dir } = await daemonFolder();
  mkdirSync(path.join(dir, '.prim'));
  // This test's own process: alive, and not a prim node.
  writeFileSync(pidFile(dir), `${process.pid}\n`);

  const status = await prim(dir, 'status');
  expect(status.code).toBe(1);
  expect(status.stderr).toContain('names no live prim node');

  const stop = await prim(dir, 'stop', '--json');
  expect(stop.code).toBe(0);
  expect(onlyJson(stop)).toEqual({ stopped: false, pid: null });
  expect(existsSync(pidFile(dir))).toBe(false);
});

test('a pid file that names another folder’s node is stale, and that node is left alone', async () => {
  const { dir: other, pid } = await started();
  const { dir } = await daemonFolder();
  mkdirSync(path.join(dir, '.prim'));
  writeFileSync(pidFile(dir), readFileSync(pidFile(other)));

  const stop = await prim(dir, 'stop', '--json');
  expect(stop.code).toBe(0);
  expect(onlyJson(stop)).toEqual({ stopped: false, pid: null });

  const status = await prim(other, 'status', '--json');
  expect(status.code).toBe(0);
  expect(onlyJson(status)).toMatchObject({ running: true, pid });
});

test('stop that runs out of time kills the node with SIGKILL and exits 1', async () => {
  const { dir, pid } = await started();
  // A stopped process holds SIGTERM until it continues; SIGKILL ends it.
  process.kill(pid, 'SIGSTOP');

  const result = await prim(dir, 'stop', '--timeout', '300ms');

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    `error: the node (pid ${pid}) had not exited 300ms after SIGTERM`,
  );
  expect(result.stderr).toContain('killed it with SIGKILL');
  expect(gone(pid)).toBe(true);
  expect(existsSync(pidFile(dir))).toBe(false);
});

test('a failed start shows the end of the log and leaves no pid file', async () => {
  const busy = createServer((socket) => socket.destroy());
  servers.push(busy);
  const port = await new Promise<number>((resolve) =>
    busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)),
  );
  const { dir } = await daemonFolder(port);

  const result = await prim(dir, 'start');

  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  const logFile = path.join(dir, '.prim', 'prim.log');
  expect(result.stderr).toContain(`the end of ${logFile}:`);
  expect(result.stderr).toContain(`  error: http.port ${port} is in use`);
  expect(result.stderr).toMatch(
    /error: the node \(pid \d+\) exited with code 1 before it was ready; its log is /,
  );
  expect(existsSync(pidFile(dir))).toBe(false);
});

test('start refuses a port where another node already answers', async () => {
  const other = await startTestNode();
  const { dir } = await daemonFolder(other.port);

  const result = await prim(dir, 'start');

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    `error: a node already answers at http://127.0.0.1:${other.port}`,
  );
  expect(existsSync(pidFile(dir))).toBe(false);
});

test('start refuses http.port 0: a background node must be findable', async () => {
  const { dir } = await daemonFolder(0);

  const result = await prim(dir, 'start', '--json');

  expect(result.code).toBe(1);
  expect(onlyJson(result).error).toMatchObject({ kind: 'BAD_PARAMETER' });
  expect(onlyJson(result).error.message).toContain('http.port is 0 (any free port)');
  expect(existsSync(path.join(dir, '.prim'))).toBe(false);
});

test('a --timeout that is not a duration is a usage error', async () => {
  const { dir } = await daemonFolder();

  const result = await prim(dir, 'start', '--timeout', 'soon');

  expect(result.code).toBe(2);
  expect(result.stderr).toContain('--timeout: "soon" is not a duration');
});

test('a node not ready within --timeout is stopped, and start exits 1', async () => {
  const { dir } = await daemonFolder();

  const result = await prim(dir, 'start', '--timeout', '1ms');

  expect(result.code).toBe(1);
  const [, pid] = result.stderr.match(
    /error: the node was not ready within 1ms \(--timeout\); stopped it \(pid (\d+)\)/,
  )!;
  expect(gone(Number(pid))).toBe(true);
  expect(existsSync(pidFile(dir))).toBe(false);
});

test('of two starts at once one runs the node, the other says so, and status finds it', async () => {
  const { dir, port } = await daemonFolder();

  const [a, b] = await Promise.all([prim(dir, 'start', '--json'), prim(dir, 'start', '--json')]);

  const [won, lost] = a.code === 0 ? [a, b] : [b, a];
  expect(won.code).toBe(0);
  expect(lost.code).toBe(1);
  expect(onlyJson(lost).error.message).toMatch(
    /^a node is already (starting here \(prim start, pid \d+\)|running here \(pid \d+\))/,
  );
  const { pid } = onlyJson(won);
  const status = await prim(dir, 'status', '--json');
  expect(status.code).toBe(0);
  expect(onlyJson(status)).toMatchObject({ running: true, pid, url: `http://127.0.0.1:${port}` });
  expect(existsSync(startLock(dir))).toBe(false);

  const stop = await prim(dir, 'stop', '--json');
  expect(onlyJson(stop)).toMatchObject({ stopped: true, pid });
});

test('of two starts on one port from two folders, the one whose node lost exits 1', async () => {
  const first = await daemonFolder();
  const second = await daemonFolder(first.port);

  const [a, b] = await Promise.all([
    prim(first.dir, 'start', '--json'),
    prim(second.dir, 'start', '--json'),
  ]);

  const [won, lost] = a.code === 0 ? [a, b] : [b, a];
  const [wonDir, lostDir] = a.code === 0 ? [first.dir, second.dir] : [second.dir, first.dir];
  expect([won.code, lost.code]).toEqual([0, 1]);
  expect(readFileSync(pidFile(wonDir), 'utf8').split('\n')[0]).toBe(String(onlyJson(won).pid));
  expect(existsSync(pidFile(lostDir))).toBe(false);
  // The start may find the other node answering already, or spawn its
  // own, which then fails to listen; either way it says why.
  expect(onlyJson(lost).error.message).toMatch(
    new RegExp(
      `^(a node already answers at http://127\\.0\\.0\\.1:${first.port}|` +
        'the node \\(pid \\d+\\) exited with code 1 before it was ready)',
    ),
  );
  if (!onlyJson(lost).error.message.startsWith('a node already answers')) {
    expect(lost.stderr).toContain(`  error: http.port ${first.port} is in use`);
  }
});

test('a start while another is under way is refused with the pid of that start', async () => {
  const { dir } = await daemonFolder();
  // A process whose command line is that of a `prim start`, which is how
  // the holder of the start lock is known.
  const fake = path.join(dir, 'prim');
  writeFileSync(fake, 'setInterval(() => {}, 1000);\n');
  const holderPid = new FakeStart([fake, 'start'], dir, envWithoutPrim()).pid;
  mkdirSync(path.join(dir, '.prim'));
  writeFileSync(startLock(dir), `${holderPid}\n`);

  const result = await prim(dir, 'start');

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    `error: a node is already starting here (prim start, pid ${holderPid}); ` +
      'once it is up, see prim status',
  );
  expect(existsSync(pidFile(dir))).toBe(false);
  expect(readFileSync(startLock(dir), 'utf8')).toBe(`${holderPid}\n`);
});

test('a start lock left by a start that is gone does not stop the next start', async () => {
  const { dir } = await daemonFolder();
  mkdirSync(path.join(dir, '.prim'));
  // This test's own process: alive, and no prim start.
  writeFileSync(startLock(dir), `${process.pid}\n`);

  const result = await prim(dir, 'start', '--json');

  expect(result.code).toBe(0);
  expect(existsSync(startLock(dir))).toBe(false);
  expect(readFileSync(pidFile(dir), 'utf8').split('\n')[0]).toBe(String(onlyJson(result).pid));
});

test("status of a stopped node shows the config's URL, not a stale pid file's", async () => {
  const { dir, port } = await daemonFolder();
  const [gonePort, envPort] = [await freePort(), await freePort()];
  mkdirSync(path.join(dir, '.prim'));
  // Left by a node that was killed: this test's pid is no prim node.
  writeFileSync(pidFile(dir), `${process.pid}\nhttp://127.0.0.1:${gonePort}\n`);

  const fromConfig = await prim(dir, 'status', '--json');
  expect(fromConfig.code).toBe(1);
  expect(onlyJson(fromConfig)).toMatchObject({ running: false, url: `http://127.0.0.1:${port}` });

  const fromEnv = await runCli(dir, ['status', '--json'], { PRIM_HTTP_PORT: String(envPort) });
  expect(fromEnv.code).toBe(1);
  expect(onlyJson(fromEnv)).toMatchObject({ running: false, url: `http://127.0.0.1:${envPort}` });
  expect(fromEnv.stderr).toContain('names no live prim node');
});
