// The SQLite store: the shared contract, plus what only a file-backed store
// has: migrations, reopening, and several nodes sharing one file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrimError } from '../src/errors.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { inboxSeqOf, type StoredMessage } from '../src/store/store.js';
import { message } from './helpers/store.js';
import { storeContract } from './store-contract.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prim-store-sqlite-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let contractFile = '';
let contractRuns = 0;

storeContract(
  'sqlite',
  async () => {
    contractFile = path.join(dir, `contract-${++contractRuns}.db`);
    return new SqliteStore(contractFile);
  },
  () => {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(contractFile + suffix, { force: true });
  },
);

describe('sqlite store file', () => {
  const opened: SqliteStore[] = [];
  let file: string;
  let fileRuns = 0;

  function openStore(): SqliteStore {
    const store = new SqliteStore(file);
    opened.push(store);
    return store;
  }

  beforeAll(() => {
    file = path.join(dir, 'file-0.db');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    file = path.join(dir, `file-${++fileRuns}.db`);
  });

  it('migrations set user_version and create the tables, in WAL mode', async () => {
    await openStore().close();

    const db = new Database(file, { readonly: true });
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((row) => row.name);
    const version = db.pragma('user_version', { simple: true });
    const journal = db.pragma('journal_mode', { simple: true });
    db.close();

    expect(version).toBe(MIGRATIONS.length);
    expect(tables).toEqual(
      expect.arrayContaining(['tenants', 'messages', 'inbox', 'inbox_heads', 'revocations']),
    );
    expect(journal).toBe('wal');
  });

  it('creates the folder of the file when it is missing', async () => {
    file = path.join(dir, 'nested', 'deeper', 'prim.db');

    await openStore().ping();

    expect(fs.existsSync(file)).toBe(true);
  });

  it('reopening an existing file keeps its data and continues the numbering', async () => {
    const first = openStore();
    const tenant = await first.createTenant({ account: 'acme', secret: 'k1', createdAt: 1 });
    const [sent] = await first.appendMessages([message()]);
    await first.revoke('acme', 'alice', undefined, 5);
    await first.close();

    const again = openStore();
    const [next] = await again.appendMessages([message()]);

    expect(await again.getTenant('acme')).toStrictEqual(tenant);
    expect((await again.readInbox('acme', 'bob', 0, 10)).messages[0]).toStrictEqual(sent!.message);
    expect(await again.revokedAt('acme', 'alice', 'web')).toBe(5);
    expect(next!.message).toMatchObject({ senderSeq: 2, receiverSeq: 2 });
    expect(Number(next!.message.id)).toBeGreaterThan(Number(sent!.message.id));
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('refuses a file written by a newer prim and leaves it untouched', () => {
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();

    expect(() => openStore()).toThrow(PrimError);
    expect(() => openStore()).toThrow(
      `schema version ${MIGRATIONS.length + 1}, newer than this prim (${MIGRATIONS.length})`,
    );

    const after = new Database(file, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length + 1);
    after.close();
  });

  it('two stores on one file append concurrently with gapless unique seqs', async () => {
    const nodes = [openStore(), openStore()];
    await nodes[0]!.createTenant({ account: 'acme', secret: 'k1', createdAt: 1 });

    const calls = Array.from({ length: 60 }, (_, i) =>
      nodes[i % 2]!.appendMessages([
        message({ message: `m${i}` }),
        message({ senderId: 'bob', receiverId: i % 3 === 0 ? 'carol' : 'alice' }),
      ]),
    );
    const stored = (await Promise.all(calls)).flat().map((r) => r!.message);

    expectGapless(stored, 'alice', 100);
    expectGapless(stored, 'bob', 120);
    expectGapless(stored, 'carol', 20);
    expect(await nodes[1]!.inboxHead('acme', 'bob')).toBe(120);
    expect((await nodes[0]!.readInbox('acme', 'bob', 0, 500)).messages).toHaveLength(120);
  });

  it('a second process on the same file appends concurrently without gaps', async () => {
    const rounds = 300;
    const store = openStore();
    await store.createTenant({ account: 'acme', secret: 'k1', createdAt: 1 });
    const child = spawnAppender(file, rounds);
    // Listened to at once: the child may well exit while this process is
    // still appending. An early exit shows as its code instead of "ready".
    const exited = once(child, 'exit');
    const [ready] = await Promise.race([once(child.stdout, 'data'), exited]);
    expect(String(ready)).toBe('ready\n');

    child.stdin.end('go\n');
    const own: StoredMessage[] = [];
    for (let i = 0; i < rounds; i++) {
      // Yield to the event loop so that the child gets its go and both
      // processes contend for the write lock.
      await new Promise(setImmediate);
      const results = await store.appendMessages([message({ message: `parent ${i}` })]);
      own.push(results[0]!.message);
    }
    const [code] = await exited;

    expect(code).toBe(0);
    const inbox = (await store.readInbox('acme', 'bob', 0, 1000)).messages;
    expect(inbox.map((m) => m.receiverSeq)).toEqual(inbox.map((_, i) => i + 1));
    expect(inbox.filter((m) => m.message.startsWith('child'))).toHaveLength(rounds);
    expect(new Set(inbox.map((m) => m.id)).size).toBe(2 * rounds);
    expect(own.every((m) => inbox.some((stored) => stored.id === m.id))).toBe(true);
  }, 30_000);
});

function expectGapless(stored: StoredMessage[], user: string, count: number): void {
  const seqs = stored
    .filter((m) => m.senderId === user || m.receiverId === user)
    .map((m) => inboxSeqOf(m, user))
    .sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
}

// Runs the TypeScript store in a plain `node` child, the way a second node
// on the same host would open the file. Node 20 cannot load .ts itself, so
// a small loader hook transpiles the store's sources with the project's own
// TypeScript and maps their `.js` import specifiers back to `.ts`.
function spawnAppender(file: string, rounds: number) {
  const loader = path.join(dir, 'ts-loader.mjs');
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href;
  fs.writeFileSync(
    loader,
    `import { readFile } from 'node:fs/promises';
import ts from ${JSON.stringify(typescript)};
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.endsWith('.js')) throw err;
    return next(specifier.slice(0, -3) + '.ts', context);
  }
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 };
  const source = await readFile(new URL(url), 'utf8');
  const output = ts.transpileModule(source, { compilerOptions: options, fileName: url });
  return { format: 'module', source: output.outputText, shortCircuit: true };
}
`,
  );

  const script = `
    import { register } from 'node:module';
    import { once } from 'node:events';
    register(process.env.LOADER);
    const { SqliteStore } = await import(process.env.STORE);
    const store = new SqliteStore(process.env.FILE);
    process.stdout.write('ready\\n');
    await once(process.stdin, 'data');
    for (let i = 0; i < Number(process.env.ROUNDS); i++) {
      await store.appendMessages([{
        tenant: 'acme', senderId: 'carol', receiverId: 'bob', message: 'child ' + i,
        msgType: 1, msgContType: 0, clientMsgId: undefined, senderNickname: 'Carol',
        senderAvatar: '', time: Date.now(),
      }]);
    }
    await store.close();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      LOADER: pathToFileURL(loader).href,
      STORE: new URL('../src/store/sqlite/sqlite-store.ts', import.meta.url).href,
      FILE: file,
      ROUNDS: String(rounds),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return child;
}
