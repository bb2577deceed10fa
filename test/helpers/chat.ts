// The README's copy-paste client, chat.mjs, run verbatim as a user runs it:
// `node chat.mjs <me> <them>` in a folder holding `<me>.token`.
//
// The folder is under the repository root, because the client imports `ws`
// and ESM resolves packages only from node_modules folders above the file
// (NODE_PATH is not honoured), just as it does for a user.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TEMP_ROOT = path.join(ROOT, '.test-tmp');

// The ```js block that follows the first line naming chat.mjs, which is
// where the README tells the reader to save it.
export function readmeChatClient(): string {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const named = lines.findIndex((line) => line.includes('`chat.mjs`'));
  if (named < 0) throw new Error('README.md names no `chat.mjs`');
  const open = lines.findIndex((line, i) => i > named && line.trim() === '```js');
  const close = lines.findIndex((line, i) => i > open && line.trim() === '```');
  if (open < 0 || close < 0) throw new Error('no ```js block follows `chat.mjs` in README.md');
  return lines.slice(open + 1, close).join('\n') + '\n';
}

// A fresh folder under .test-tmp/ with chat.mjs in it.
export function chatFolder(): string {
  mkdirSync(TEMP_ROOT, { recursive: true });
  const folder = mkdtempSync(path.join(TEMP_ROOT, 'chat-'));
  writeFileSync(path.join(folder, 'chat.mjs'), readmeChatClient());
  return folder;
}

// Removes the folder, and .test-tmp/ too once no other test uses it.
export function removeChatFolder(folder: string): void {
  rmSync(folder, { recursive: true, force: true });
  try {
    rmdirSync(TEMP_ROOT);
  } catch {
    // Another test file's folder is still in it.
  }
}

export function writeToken(folder: string, user: string, token: string): void {
  writeFileSync(path.join(folder, `${user}.token`), token);
}

// One running `node chat.mjs <me> <them>`.
export class ChatProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;
  private readonly child: ChildProcess;
  private listeners: Array<() => void> = [];

  constructor(folder: string, me: string, them: string, nodeUrl: string) {
    // The shell's PRIM_* variables stay out, as in the CLI helper; CHAT_URL
    // is the client's own setting and names the node under test.
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith('PRIM_')) env[name] = value;
    }
    env.CHAT_URL = nodeUrl.replace(/^http/, 'ws');
    this.child = spawn(process.execPath, ['chat.mjs', me, them], { cwd: folder, env });
    this.child.stdout!.on('data', (chunk) => this.take('stdout', chunk));
    this.child.stderr!.on('data', (chunk) => this.take('stderr', chunk));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        resolve(code ?? -1);
        this.notify();
      }),
    );
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  // The lines printed on stdout so far.
  get lines(): string[] {
    return this.stdout.split('\n').filter((line) => line !== '');
  }

  // Resolves once `text` is in the stream; rejects with what was printed if
  // the process exits first or nothing matches in time.
  waitFor(stream: 'stdout' | 'stderr', text: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not appear within ${timeoutMs}ms`), timeoutMs);
      let exited = false;
      void this.exited.then(() => (exited = true));
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
      };
      const fail = (why: string) => {
        done();
        reject(
          new Error(
            `${JSON.stringify(text)} ${why} on ${stream}\n` +
              `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
          ),
        );
      };
      const check = () => {
        if (this[stream].includes(text)) {
          done();
          resolve();
        } else if (exited) {
          fail('was not printed before the client exited');
        }
      };
      this.listeners.push(check);
      check();
    });
  }

  // A line typed at the keyboard.
  type(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  // Ctrl-D: the end of the input.
  leave(): void {
    this.child.stdin!.end();
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  private take(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this[stream] += String(chunk);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

const running = new Set<ChatProcess>();

// For afterEach: whatever a failed test left running is killed.
export async function killChats(): Promise<void> {
  const left = [...running];
  for (const chat of left) chat.kill();
  await Promise.all(left.map((chat) => chat.exited));
}
