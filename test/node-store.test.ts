// How a node holds its store: alone in single-node mode, private on disk,
// with clear errors when it cannot open it.
import { rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { createLogger } from '../src/log.js';
import { startNode } from '../src/server/node.js';
import { startTestNode, stopTestNodes, tempDir, testConfig } from './helpers/node.js';

afterEach(async () => {
  await stopTestNodes();
});

const silent = createLogger({ level: 'silent', pretty: false });

test('a second single node on the same store is refused with the owner pid', async () => {
  const first = await startTestNode();

  const second = startNode(testConfig(first.dataDir), silent);

  const storeFile = path.join(first.dataDir, 'prim.db');
  await expect(second).rejects.toThrow(
    `another prim node (pid ${process.pid}) serves the store ${storeFile}`,
  );
});

test('the store is free again once its node has stopped', async () => {
  const first = await startTestNode();
  await first.context.store.ping();
  const dataDir = first.dataDir;
  await first.stop();

  const again = await startTestNode({}, dataDir);

  expect(again.context.state).toBe('ready');
});

test('the store and the data folder are readable by their owner only', async () => {
  const node = await startTestNode();

  expect(statSync(path.join(node.dataDir, 'prim.db')).mode & 0o777).toBe(0o600);
  expect(statSync(path.join(node.dataDir, 'prim.db-wal')).mode & 0o777).toBe(0o600);
});

test('a store that cannot be opened names store.url', async () => {
  const dir = tempDir();
  // A folder cannot be made where a file already is.
  writeFileSync(path.join(dir, 'file'), '');
  const url = `sqlite:${path.join(dir, 'file', 'prim.db')}`;
  const config = testConfig(dir, { PRIM_STORE_URL: url });

  await expect(startNode(config, silent)).rejects.toThrow(
    `cannot open the store at store.url ${url}: EEXIST: file already exists, mkdir`,
  );
  rmSync(dir, { recursive: true, force: true });
});
