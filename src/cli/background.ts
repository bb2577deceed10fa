// The background node's process: its pid file, the signals that stop it,
// and its log file, all in dataDir.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';

// The CLI entry the background node runs: the package's own, whichever
// path this CLI was started by.
const BIN = fileURLToPath(new URL('../../bin/prim', import.meta.url));

const POLL_MS = 100;
// After SIGTERM a node that is not ready yet has no drain to finish; it
// gets this long, and after SIGKILL the OS gets as long to remove it.
export const KILL_GRACE_MS = 5000;
// Enough of the log to show why a start failed.
const LOG_TAIL_LINES = 20;
const LOG_TAIL_BYTES = 64 * 1024;
// How much of the log is read at a time while watching it.
const LOG_CHUNK_BYTES = 64 * 1024;

export function daemonFiles(config: Config): {
  pidFile: string;
  logFile: string;
  startLock: string;
} {
  return {
    pidFile: path.join(config.dataDir, 'prim.pid'),
    logFile: path.join(config.dataDir, 'prim.log'),
    // Held by a `prim start` until its node is ready or has failed.
    startLock: path.join(config.dataDir, 'prim.start.lock'),
  };
}

// The pid file holds the pid on its first line and the node's URL on the
// second: the URL the node was started with, which the config read later
// (without that start's PRIM_HTTP_PORT, say) may not give.
function readPidFile(file: string): { pid?: number; url?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const [first = '', second = ''] = text.split('\n').map((line) => line.trim());
  const pid = Number(first);
  return {
    pid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
    url: /^https?:\/\//.test(second) ? second : undefined,
  };
}

// A missing or garbled pid file names no node.
function pidInFile(file: string): number | undefined {
  return readPidFile(file).pid;
}

export function writePidFile(file: string, pid: number, url: string): void {
  writeFileSync(file, `${pid}\n${url}\n`, { mode: 0o600 });
}

// Where the node in the pid file was started to listen.
export function urlInPidFile(file: string): string | undefined {
  return readPidFile(file).url;
}

// A pid file outlives a node that was killed, and its pid may since belong
// to an unrelated process, which must never be signalled. On Linux /proc
// tells what runs under the pid; a zombie (exited, not yet reaped by its
// new parent) has an empty command line and counts as gone. `command` is
// the prim command it runs: serve for a node, start for a start under way.
export function isPrimProcess(pid: number, command = 'serve'): boolean {
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
  return args.includes(command) && args.some((arg) => path.basename(arg) === 'prim');
}

// The node of this data folder: a prim node whose output goes to the
// folder's log. Another node's pid (a pid file copied from its folder, or
// a pid it was given after this folder's node died) is not signalled.
export function livePid(files: { pidFile: string; logFile: string }): number | undefined {
  const pid = pidInFile(files.pidFile);
  return pid !== undefined && isPrimProcess(pid) && writesTo(pid, files.logFile) ? pid : undefined;
}

function writesTo(pid: number, logFile: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/fd/1`) === realpathSync(logFile);
  } catch {
    // Elsewhere there is no /proc, and a prim node is all that is known.
    return process.platform !== 'linux';
  }
}

// Only while the file still names this pid: a second `prim start` racing
// this one may have written its own since.
export function removePidFile(pidFile: string, pid: number): void {
  if (pidInFile(pidFile) === pid) rmSync(pidFile, { force: true });
}

async function untilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPrimProcess(pid)) {
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
export async function terminate(
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
export function spawnNode(
  configFlag: string | undefined,
  logFile: string,
): { child: ChildProcess; logFrom: number } {
  const log = openSync(logFile, 'a', 0o600);
  try {
    const args = [BIN, 'serve', ...(configFlag === undefined ? [] : ['--config', configFlag])];
    const logFrom = fstatSync(log).size;
    // Its output goes to a file: never colour, whatever FORCE_COLOR says.
    const env = { ...process.env, NO_COLOR: '1' };
    const child = spawn(process.execPath, args, {
      detached: true,
      env,
      stdio: ['ignore', log, log],
    });
    child.unref();
    return { child, logFrom };
  } finally {
    closeSync(log);
  }
}

// How the child ended, in words, once it has.
export function endOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('exit', (code, name) =>
      resolve(name ? `was killed by ${name}` : `exited with code ${code}`),
    );
    child.once('error', (err) => resolve(`could not be started (${err.message})`));
  });
}

// Watches the log from `from` on: each call reads what was written since
// the last and says whether a line matching `pattern` has come, however
// much came before it (warnings, say).
export function logWatch(logFile: string, from: number, pattern: RegExp): () => boolean {
  let position = from;
  let partial = '';
  let found = false;
  // A character cut in two by a read is whole in the next.
  const decoder = new StringDecoder('utf8');
  return () => {
    if (found) return true;
    const fd = openSync(logFile, 'r');
    try {
      const buffer = Buffer.alloc(LOG_CHUNK_BYTES);
      for (;;) {
        const read = readSync(fd, buffer, 0, buffer.length, position);
        if (read === 0) return false;
        position += read;
        const lines = (partial + decoder.write(buffer.subarray(0, read))).split('\n');
        partial = lines.pop() ?? '';
        if (lines.some((line) => pattern.test(line))) return (found = true);
      }
    } finally {
      closeSync(fd);
    }
  };
}

// The last lines written to the log since `from`: why the start failed.
export function logTail(logFile: string, from: number): string[] {
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
