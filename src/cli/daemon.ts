// `prim start`, `prim stop`, `prim status`: one node in the background,
// found again through a pid file in dataDir, with its output in a log file
// next to it.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { resolveAdminKey } from '../auth/admin-key.js';
import { NodeClient } from '../client/node-client.js';
import type { Config } from '../config/schema.js';
import { formatDuration, parseDuration } from '../config/values.js';
import { PrimError } from '../errors.js';
import { cliConfig, examples, flagValue, globalsOf, withJson } from './context.js';
import { UsageError } from './failure.js';
import { fields, type Output } from './output.js';
import { nodeUrl } from './rest.js';

// The CLI entry the background node runs: the package's own, whichever
// path this CLI was started by.
const BIN = fileURLToPath(new URL('../../bin/prim', import.meta.url));

const POLL_MS = 100;
const PROBE_TIMEOUT_MS = 1000;
// After SIGTERM a node that is not ready yet has no drain to finish; it
// gets this long, and after SIGKILL the OS gets as long to remove it.
const KILL_GRACE_MS = 5000;
// What `stop` waits beyond shutdownTimeout: the drain is bounded by it, and
// closing the store and exiting take a moment more.
const STOP_MARGIN_MS = 5000;
// Enough of the log to show why a start failed.
const LOG_TAIL_LINES = 20;
const LOG_TAIL_BYTES = 64 * 1024;

// The part of /system/state that status shows.
interface NodeState {
  nodeId: string;
  state: string;
  uptimeMs: number;
  connections: number;
}

function daemonFiles(config: Config): { pidFile: string; logFile: string } {
  return {
    pidFile: path.join(config.dataDir, 'prim.pid'),
    logFile: path.join(config.dataDir, 'prim.log'),
  };
}

// A missing or garbled pid file names no node.
function pidInFile(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

// A pid file outlives a node that was killed, and its pid may since belong
// to an unrelated process, which must never be signalled. On Linux /proc
// tells what runs under the pid; a zombie (exited, not yet reaped by its
// new parent) has an empty command line and counts as gone.
function isPrimNode(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // Elsewhere there is no /proc, and being alive is all that is known.
    return process.platform !== 'linux';
  }
  const args = cmdline.split('\0');
  return args.includes('serve') && args.some((arg) => path.basename(arg) === 'prim');
}

function livePid(pidFile: string): number | undefined {
  const pid = pidInFile(pidFile);
  return pid !== undefined && isPrimNode(pid) ? pid : undefined;
}

// Only while the file still names this pid: a second `prim start` racing
// this one may have written its own since.
function removePidFile(pidFile: string, pid: number): void {
  if (pidInFile(pidFile) === pid) rmSync(pidFile, { force: true });
}

// The HTTP status /readyz answers with, or undefined when nothing answers.
// An ordinary timer, not AbortSignal.timeout(): a fetch from a listener
// that hangs up at once can wait with no handle open, and without a timer
// that keeps the process alive, start would exit halfway with status 0.
async function probe(url: string): Promise<number | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS);
  try {
    const response = await fetch(new URL('/readyz', url), { signal: abort.signal });
    await response.body?.cancel();
    return response.status;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function untilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPrimNode(pid)) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(POLL_MS, left));
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    // Gone in the meantime, which is what the signal was for.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

// SIGTERM, and SIGKILL when the node has not exited within graceMs.
async function terminate(
  pid: number,
  graceMs: number,
): Promise<{ killed: boolean; durationMs: number }> {
  const begun = Date.now();
  signal(pid, 'SIGTERM');
  if (await untilGone(pid, graceMs)) return { killed: false, durationMs: Date.now() - begun };
  signal(pid, 'SIGKILL');
  await untilGone(pid, KILL_GRACE_MS);
  return { killed: true, durationMs: Date.now() - begun };
}

// `prim serve` in a session of its own, so that the terminal's Ctrl-C and
// hang-up do not reach it. Both its streams go to the log file, and this
// process keeps no handle on it and can exit. `logFrom` is where this
// start's part of the log begins.
function spawnNode(
  configFlag: string | undefined,
  logFile: string,
): { child: ChildProcess; logFrom: number } {
  const log = openSync(logFile, 'a', 0o600);
  try {
    const args = [BIN, 'serve', ...(configFlag === undefined ? [] : ['--config', configFlag])];
    const logFrom = fstatSync(log).size;
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    return { child, logFrom };
  } finally {
    closeSync(log);
  }
}

// How the child ended, in words, once it has.
function endOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('exit', (code, name) =>
      resolve(name ? `was killed by ${name}` : `exited with code ${code}`),
    );
    child.once('error', (err) => resolve(`could not be started (${err.message})`));
  });
}

// Whichever comes first: /readyz answers 200, the child ends, time is up.
async function untilReady(
  url: string,
  ended: Promise<string>,
  timeoutMs: number,
): Promise<'ready' | 'timeout' | { ended: string }> {
  let how: string | undefined;
  void ended.then((text) => (how = text));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (how !== undefined) return { ended: how };
    if ((await probe(url)) === 200) return 'ready';
    if (Date.now() >= deadline) return 'timeout';
    await Promise.race([delay(POLL_MS), ended]);
  }
}

// The last lines written to the log since `from`: why the start failed.
function logTail(logFile: string, from: number): string[] {
  const fd = openSync(logFile, 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(from, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8').trimEnd();
    return text === '' ? [] : text.split('\n').slice(-LOG_TAIL_LINES);
  } finally {
    closeSync(fd);
  }
}

function timeoutFlag(raw: string): number {
  const ms = flagValue(parseDuration, '--timeout', raw);
  if (ms <= 0) throw new UsageError('--timeout must be longer than 0');
  return ms;
}

// 0.4s and 12.3s when short, 3m 12s and 5h 2m when long.
function elapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours > 0 ? `${hours}h ${minutes}m` : `${minutes}m ${seconds % 60}s`;
}

async function start(flags: { timeout: string }, command: Command, out: Output): Promise<void> {
  const { config } = cliConfig(command, out);
  const timeoutMs = timeoutFlag(flags.timeout);
  if (config.http.port === 0) {
    throw new PrimError(
      'BAD_PARAMETER',
      'http.port is 0 (any free port), but `prim status` and `prim stop` must find ' +
        'a background node; set http.port (or PRIM_HTTP_PORT) to a fixed port',
    );
  }
  const url = nodeUrl(config);
  const { pidFile, logFile } = daemonFiles(config);

  const running = livePid(pidFile);
  if (running !== undefined) {
    throw new PrimError('OPERATION_FAILED', `already running (pid ${running}); see prim status`);
  }
  // Another node on the port would answer /readyz for ours, which then
  // fails to listen: start would report a node that is not running.
  if ((await probe(url)) !== undefined) {
    throw new PrimError(
      'OPERATION_FAILED',
      `a node already answers at ${url}, but ${pidFile} names none; stop it, ` +
        'or change http.port (or PRIM_HTTP_PORT)',
    );
  }

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Resolved here, not by the node, so that a generated key is shown to
  // whoever ran start and never lands in the log.
  const adminKey = resolveAdminKey(config.adminKey, config.dataDir);
  if (adminKey.generated) {
    out.info(`admin key (shown only now; kept in ${adminKey.file}): ${adminKey.key}`);
  }

  const { child, logFrom } = spawnNode(globalsOf(command).config, logFile);
  const ended = endOf(child);
  const pid = child.pid;
  if (pid === undefined) throw new PrimError('OPERATION_FAILED', `the node ${await ended}`);
  writeFileSync(pidFile, `${pid}\n`, { mode: 0o600 });

  const outcome = await untilReady(url, ended, timeoutMs);
  if (outcome === 'ready') {
    out.result({ pid, url, logFile }, () => `prim started: pid ${pid}, ${url}, log ${logFile}`);
    return;
  }

  let why: string;
  if (outcome === 'timeout') {
    const { killed } = await terminate(pid, KILL_GRACE_MS);
    why =
      `the node was not ready within ${formatDuration(timeoutMs)} (--timeout); ` +
      `stopped it (pid ${pid}) with ${killed ? 'SIGKILL' : 'SIGTERM'}`;
  } else {
    why = `the node (pid ${pid}) ${outcome.ended} before it was ready`;
  }
  removePidFile(pidFile, pid);
  const tail = logTail(logFile, logFrom);
  out.info(tail.length > 0 ? `the end of ${logFile}:` : `the node wrote nothing to ${logFile}`);
  if (tail.length > 0) out.diagnostic(tail.map((line) => `  ${line}`).join('\n'));
  throw new PrimError('OPERATION_FAILED', `${why}; its log is ${logFile}`);
}

async function stop(flags: { timeout?: string }, command: Command, out: Output): Promise<void> {
  const { config } = cliConfig(command, out);
  const timeoutMs =
    flags.timeout === undefined
      ? config.shutdownTimeout + STOP_MARGIN_MS
      : timeoutFlag(flags.timeout);
  const { pidFile } = daemonFiles(config);

  const pid = livePid(pidFile);
  if (pid === undefined) {
    const stale = existsSync(pidFile);
    rmSync(pidFile, { force: true });
    out.result({ stopped: false, pid: null }, () =>
      stale ? `not running (removed the stale pid file ${pidFile})` : 'not running',
    );
    return;
  }

  const { killed, durationMs } = await terminate(pid, timeoutMs);
  removePidFile(pidFile, pid);
  if (killed) {
    throw new PrimError(
      'OPERATION_FAILED',
      `the node (pid ${pid}) had not exited ${formatDuration(timeoutMs)} after SIGTERM ` +
        '(--timeout, default shutdownTimeout + 5s); killed it with SIGKILL, so its drain ' +
        'did not finish',
    );
  }
  out.result(
    { stopped: true, pid, durationMs },
    () => `stopped (pid ${pid}) after ${elapsed(durationMs)}`,
  );
}

// The admin key the node uses: the config's, else the one it generated.
function adminKeyOf(config: Config): string {
  if (config.adminKey) return config.adminKey;
  const file = path.join(config.dataDir, 'admin.key');
  const key = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (key === '') {
    throw new PrimError(
      'OPERATION_FAILED',
      `no admin key: the config has no adminKey and ${file} does not exist`,
    );
  }
  return key;
}

async function status(command: Command, out: Output): Promise<void> {
  const { config } = cliConfig(command, out);
  const url = nodeUrl(config);
  const { pidFile, logFile } = daemonFiles(config);

  const pid = livePid(pidFile);
  if (pid === undefined) {
    out.result({ running: false, pid: null, url, logFile }, () => []);
    const why = existsSync(pidFile) ? `${pidFile} names no live prim node` : `no ${pidFile}`;
    throw new PrimError('OPERATION_FAILED', `not running (${why}); start it with \`prim start\``);
  }

  // A node still starting, or one given another key, has no state to
  // show; that it runs is still the answer.
  let state: NodeState | undefined;
  try {
    const node = new NodeClient(url, `see its log ${logFile}`);
    state = await node.call<NodeState>('GET', '/system/state', `Bearer ${adminKeyOf(config)}`);
  } catch (err) {
    out.warn(`cannot read the node's state: ${(err as Error).message}`);
  }

  const rows: Array<[string, string]> = [
    ['status', 'running'],
    ['pid', String(pid)],
    ['url', url],
    ['log', logFile],
  ];
  if (state) {
    rows.push(['nodeId', state.nodeId], ['state', state.state]);
    rows.push(['uptime', elapsed(state.uptimeMs)], ['connections', String(state.connections)]);
  }
  out.result({ running: true, pid, url, logFile, ...(state ? { state } : {}) }, () => fields(rows));
}

export function registerDaemon(program: Command, out: Output): void {
  const files =
    '\n\nThe node runs `prim serve` with the same config; its pid file is' +
    '\n<dataDir>/prim.pid and its output goes to <dataDir>/prim.log.';

  withJson(program.command('start'))
    .description('run a node in the background; returns once it is ready')
    .option('--timeout <duration>', 'how long to wait for the node to be ready', '30s')
    .addHelpText(
      'after',
      examples('prim start', 'prim start --timeout 1m --json', 'PRIM_HTTP_PORT=8080 prim start') +
        files,
    )
    .action((flags: { timeout: string }, command: Command) => start(flags, command, out));

  withJson(program.command('stop'))
    .description('stop the background node; returns once it has drained')
    .option(
      '--timeout <duration>',
      'how long to wait before SIGKILL (default: shutdownTimeout + 5s)',
    )
    .addHelpText('after', examples('prim stop', 'prim stop --timeout 1m'))
    .action((flags: { timeout?: string }, command: Command) => stop(flags, command, out));

  withJson(program.command('status'))
    .description('whether the background node runs, and its state (exit 1 when it does not)')
    .addHelpText('after', examples('prim status', 'prim status --json'))
    .action((_flags: unknown, command: Command) => status(command, out));
}
