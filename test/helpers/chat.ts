// The README's copy-paste client, chat.mjs, run verbatim as a user runs it:
// `node chat.mjs <me> <them>` in a folder holding `<me>.token`.
//
// The folder is under the repository root, because the client imports `ws`
// and ESM resolves packages only from node_modules folders above the file
// (NODE_PATH is not honoured), just as it does for a user.
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envWithoutPrim, WatchedProcess } from './process.js';

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
export class ChatProcess extends WatchedProcess {
  constructor(folder: string, me: string, them: string, nodeUrl: string) {
    // CHAT_URL is the client's own setting and names the node under test.
    const env = envWithoutPrim({ CHAT_URL: nodeUrl.replace(/^http/, 'ws') });
    super(['chat.mjs', me, them], folder, env);
  }

  // The lines printed on stdout so far.
  get lines(): string[] {
    return this.stdout.split('\n').filter((line) => line !== '');
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
    this.signal('SIGKILL');
  }
}

export { killProcesses as killChats } from './process.js';
