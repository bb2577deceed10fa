// A long-running child process whose output a test waits for: `prim
// serve`, the README's chat client. What a failed test leaves running is
// killed by killProcesses() in afterEach.
import { spawn, type ChildProcess } from 'node:child_process';

type Stream = 'stdout' | 'stderr';

// PRIM_* variables of the shell running the tests would change the config
// under test, so none is passed on unless the test sets it.
export function envWithoutPrim(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('PRIM_')) env[name] = value;
  }
  return { ...env, ...extra };
}

const running = new Set<WatchedProcess>();

export class WatchedProcess {
  stdout = '';
  stderr = '';
  // A process killed by a signal has no exit code; -1 stands for that.
  readonly exited: Promise<number>;
  protected readonly child: ChildProcess;
  private listeners: Array<() => void> = [];
  private hasExited = false;

  constructor(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, args, { cwd, env });
    this.child.stdout!.on('data', (chunk) => this.take('stdout', chunk));
    this.child.stderr!.on('data', (chunk) => this.take('stderr', chunk));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.hasExited = true;
        resolve(code ?? -1);
        this.notify();
      }),
    );
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  // Resolves with the first match in the stream; rejects with what was
  // printed if the process exits first or nothing matches in time.
  waitFor(stream: Stream, pattern: string | RegExp, timeoutMs = 10_000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const shown = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
      };
      const fail = (why: string) => {
        done();
        reject(
          new Error(
            `${shown} ${why} on ${stream}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
          ),
        );
      };
      const check = () => {
        const text = this[stream];
        const match =
          typeof pattern === 'string'
            ? text.includes(pattern)
              ? [pattern]
              : null
            : text.match(pattern);
        if (match) {
          done();
          resolve([...match]);
        } else if (this.hasExited) {
          fail('was not printed before the process exited');
        }
      };
      const timer = setTimeout(() => fail(`did not appear within ${timeoutMs}ms`), timeoutMs);
      this.listeners.push(check);
      check();
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private take(stream: Stream, chunk: Buffer): void {
    this[stream] += String(chunk);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

// For afterEach: whatever a failed test left running is killed.
export async function killProcesses(): Promise<void> {
  const left = [...running];
  for (const child of left) child.signal('SIGKILL');
  await Promise.all(left.map((child) => child.exited));
}
