// Starts real nodes on port 0 with their data in a temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { startNode, type RunningNode } from '../../src/server/node.js';

export interface TestNode extends RunningNode {
  dataDir: string;
  // Basic auth header for a tenant.
  tenantAuth(account: string, authCode: string): string;
  adminAuth: string;
}

export function tempDir(prefix = 'prim-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

// `env` holds PRIM_* overrides, applied through the real config loader.
export function testConfig(dataDir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    cwd: dataDir,
    env: {
      PRIM_DATA_DIR: dataDir,
      PRIM_HTTP_PORT: '0',
      PRIM_LOG_LEVEL: 'silent',
      PRIM_ADMIN_KEY: 'test-admin-key-0123456789',
      ...env,
    },
  }).config;
}

const started: TestNode[] = [];

export async function startTestNode(
  env: Record<string, string> = {},
  dataDir = tempDir(),
): Promise<TestNode> {
  const config = testConfig(dataDir, env);
  const node = await startNode(config, createLogger({ level: config.log.level, pretty: false }));
  const testNode: TestNode = {
    ...node,
    dataDir,
    adminAuth: `Bearer ${node.adminKey.key}`,
    tenantAuth: (account, authCode) =>
      `Basic ${Buffer.from(`${account}:${authCode}`).toString('base64')}`,
  };
  started.push(testNode);
  return testNode;
}

// For afterEach: stops every node started since the last call and removes
// its data.
export async function stopTestNodes(): Promise<void> {
  const nodes = started.splice(0);
  await Promise.all(nodes.map((node) => node.stop()));
  for (const node of nodes) rmSync(node.dataDir, { recursive: true, force: true });
}
