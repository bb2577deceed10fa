// Runs the built CLI (`node bin/prim …`) as a real child process, the way a
// user does: in its own folder, without colour, as in CI.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/prim', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// PRIM_* variables of the shell running the tests would change the config
// under test, so none is passed on unless the test sets it.
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('PRIM_')) env[name] = value;
  }
  return { ...env, NO_COLOR: '1', CI: '1', ...extra };
}

export function runCli(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: cliEnv(env), timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// A long-running CLI process such as `prim serve`.
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;
  private readonly child: ChildProcess;
  private listeners: Array<() => void> = [];

  constructor(cwd: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd, env: cliEnv(env) });
    this.child.stdout!.on('data', (chunk) => this.take('stdout', chunk));
    this.child.stderr!.on('data', (chunk) => this.take('stderr', chunk));
    // A process killed by a signal has no exit code; -1 stands for that.
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        resolve(code ?? -1);
        this.notify();
      }),
    );
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  // Resolves with the first match of `pattern` in stderr; rejects if the
  // process exits first or nothing matches in time.
  waitForStderr(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let exited = false;
      void this.exited.then(() => (exited = true));
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} in stderr within ${timeoutMs}ms:\n${this.stderr}`));
      }, timeoutMs);
      const check = () => {
        const match = this.stderr.match(pattern);
        if (match) {
          done();
          resolve(match);
        } else if (exited) {
          done();
          reject(new Error(`exited before ${pattern} appeared in stderr:\n${this.stderr}`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private take(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this[stream] += String(chunk);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

const running = new Set<CliProcess>();

// For afterEach: whatever a failed test left running is killed.
export async function killCliProcesses(): Promise<void> {
  const left = [...running];
  for (const cli of left) cli.signal('SIGKILL');
  await Promise.all(left.map((cli) => cli.exited));
}

// A port that was free a moment ago, for a node the CLI must find by
// config (http.port 0 cannot be written into a config others read).
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// The one JSON document a --json run must print on stdout.
export function onlyJson(result: CliResult): any {
  return JSON.parse(result.stdout);
}
