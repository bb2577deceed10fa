// `prim start`, `prim stop`, `prim status`: one node in the background,
// found again through a pid file in dataDir, with its output in a log file
// next to it.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { existingAdminKey, resolveAdminKey } from '../auth/admin-key.js';
import { NodeClient } from '../client/node-client.js';
import type { Config } from '../config/schema.js';
import { formatDuration, parseDuration } from '../config/values.js';
import { PrimError } from '../errors.js';
import {
  daemonFiles,
  endOf,
  KILL_GRACE_MS,
  livePid,
  logWatch,
  logTail,
  removePidFile,
  spawnNode,
  terminate,
  urlInPidFile,
  writePidFile,
} from './background.js';
import { cliConfig, examples, flagValue, globalsOf, withJson } from './context.js';
import { UsageError } from './failure.js';
import { elapsed, fields, type Output } from './output.js';
import { nodeUrl } from './rest.js';
import { SERVING_LINE } from './serve.js';
import { takeStartLock } from './start-lock.js';

const POLL_MS = 100;
const PROBE_TIMEOUT_MS = 1000;
// What `stop` waits beyond shutdownTimeout: the drain is bounded by it, and
// closing the store and exiting take a moment more.
const STOP_MARGIN_MS = 5000;

// The part of /system/state that status shows.
interface NodeState {
  nodeId: string;
  state: string;
  uptimeMs: number;
  connections: number;
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

// Whichever comes first: the child listens and /readyz answers 200, the
// child ends, time is up. /readyz alone is not enough: a node of another
// folder, started on the same port at the same time, answers it while the
// child fails to listen; `listening` tells whether the child itself does.
async function untilReady(
  url: string,
  child: { ended: Promise<string>; listening: () => boolean },
  timeoutMs: number,
): Promise<'ready' | 'timeout' | { ended: string }> {
  const { ended, listening } = child;
  let how: string | undefined;
  void ended.then((text) => (how = text));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (how !== undefined) return { ended: how };
    if (listening() && (await probe(url)) === 200) return 'ready';
    if (Date.now() >= deadline) return 'timeout';
    await Promise.race([delay(POLL_MS), ended]);
  }
}

function timeoutFlag(raw: string): number {
  const ms = flagValue(parseDuration, '--timeout', raw);
  if (ms <= 0) throw new UsageError('--timeout must be longer than 0');
  return ms;
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
  const { startLock } = daemonFiles(config);

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = takeStartLock(startLock);
  try {
    await startAlone(config, command, out, { url, timeoutMs });
  } finally {
    lock.release();
  }
}

// The part of start that holds the start lock: no other start runs it at
// the same time, so the pid file and the generated admin key are its own.
async function startAlone(
  config: Config,
  command: Command,
  out: Output,
  { url, timeoutMs }: { url: string; timeoutMs: number },
): Promise<void> {
  const { pidFile, logFile } = daemonFiles(config);
  const running = livePid({ pidFile, logFile });
  if (running !== undefined) {
    throw new PrimError(
      'OPERATION_FAILED',
      `a node is already running here (pid ${running}); see prim status`,
    );
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
  writePidFile(pidFile, pid, url);

  const listening = logWatch(logFile, logFrom, SERVING_LINE);
  const outcome = await untilReady(url, { ended, listening }, timeoutMs);
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
  const files = daemonFiles(config);
  const { pidFile } = files;

  const pid = livePid(files);
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
  const key = existingAdminKey(config.adminKey, config.dataDir);
  if (key === undefined) {
    throw new PrimError(
      'OPERATION_FAILED',
      `no admin key: the config has no adminKey and ${config.dataDir}/admin.key does not exist`,
    );
  }
  return key;
}

async function status(command: Command, out: Output): Promise<void> {
  const { config } = cliConfig(command, out);
  const { pidFile, logFile } = daemonFiles(config);

  const pid = livePid({ pidFile, logFile });
  if (pid === undefined) {
    // Not the pid file's URL: the node it names is gone, and the config
    // may have moved since. Where a start of this config would listen.
    const url = config.http.port === 0 ? null : nodeUrl(config);
    out.result({ running: false, pid: null, url, logFile }, () => []);
    const why = existsSync(pidFile) ? `${pidFile} names no live prim node` : `no ${pidFile}`;
    throw new PrimError('OPERATION_FAILED', `not running (${why}); start it with \`prim start\``);
  }

  const url = urlInPidFile(pidFile) ?? nodeUrl(config);
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
