// Nodes on one host may share a SQLite file: several processes appending to
// the same inboxes at once must still number each inbox 1, 2, 3 … with no
// gap and no number given twice.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { openStore } from '../src/store/open.js';
import { tempDir } from './helpers/node.js';

const STORE = fileURLToPath(new URL('../dist/store/open.js', import.meta.url));
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// One writer process: `count` messages from `sender` to bob, in batches of
// 2, from START_AT on, so that the processes really write at the same time.
const WRITER = `
const { openStore } = await import(process.env.STORE_MODULE);
const store = await openStore(process.env.STORE_URL);
const sender = process.env.SENDER;
await new Promise((resolve) => setTimeout(resolve, Number(process.env.START_AT) - Date.now()));
for (let i = 0; i < Number(process.env.COUNT); i += 2) {
  const batch = Array.from({ length: 2 }, (_, k) => ({
    tenant: 'acme', senderId: sender, receiverId: 'bob', message: sender + ' ' + (i + k),
    msgType: 1, msgContType: 1, clientMsgId: undefined, senderNickname: '', senderAvatar: '',
    time: Date.now(),
  }));
  await store.appendMessages(batch);
  // A node writes once per event-loop turn, not back to back.
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await store.close();
`;

function writer(url: string, sender: string, count: number, startAt: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', WRITER],
      {
        env: {
          ...process.env,
          STORE_MODULE: STORE,
          STORE_URL: url,
          SENDER: sender,
          COUNT: `${count}`,
          START_AT: `${startAt}`,
        },
        timeout: 60_000,
      },
      (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
    );
  });
}

test('three processes appending to one inbox number it without gaps or repeats', async () => {
  const dir = tempDir();
  dirs.push(dir);
  const url = `sqlite:${path.join(dir, 'prim.db')}`;
  const store = await openStore(url);
  await store.createTenant({ account: 'acme', secret: 's'.repeat(32), createdAt: Date.now() });

  const senders = ['alice', 'carol', 'dave'];
  const each = 300;
  const startAt = Date.now() + 1500;
  await Promise.all(senders.map((sender) => writer(url, sender, each, startAt)));

  const seqs: number[] = [];
  for (let since = 0; ;) {
    const page = await store.readInbox('acme', 'bob', since, 500);
    seqs.push(...page.messages.map((m) => m.receiverSeq));
    if (!page.hasMore) break;
    since = seqs.at(-1)!;
  }
  const total = senders.length * each;
  expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  // Each sender's own inbox is gapless too, and every message has one id.
  for (const sender of senders) expect(await store.inboxHead('acme', sender)).toBe(each);
  const page = await store.readInbox('acme', 'bob', 0, total);
  expect(new Set(page.messages.map((m) => m.id)).size).toBe(total);
  // The writers did overlap: a run one after the other proves nothing.
  const switches = page.messages.filter(
    (m, i) => i > 0 && m.senderId !== page.messages[i - 1]!.senderId,
  );
  expect(switches.length).toBeGreaterThanOrEqual(20);
  await store.close();
}, 60_000);
