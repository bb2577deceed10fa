// A cluster for one test: N in-process nodes sharing the test's own
// redis-server and one SQLite file, tenants created once and usable on
// every node, and nodes in child processes for what only a real process
// can suffer (SIGKILL, SIGSTOP).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { CliProcess, freePort, killCliProcesses } from './cli.js';
import { closeClients, connectUser, type TestClient } from './client.js';
import { startTestNode, stopTestNodes, tempDir, type TestNode } from './node.js';
import { startRedis, type TestRedis } from './redis.js';
import { call } from './rest.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
const STOP_MS = 10_000;

// Anything /acc and the REST helpers need of a node, in-process or not.
export interface Reachable {
  url: string;
  adminAuth: string;
}

// A node in a child process: `prim serve` from the built CLI.
export interface SpawnedNode extends Reachable {
  nodeId: string;
  process: CliProcess;
  port: number;
  dataDir: string;
  // Set once the process has exited.
  gone: boolean;
}

export interface ClusterOptions {
  // PRIM_* overrides for every node of the cluster.
  env?: Record<string, string>;
}

export class TestCluster {
  readonly nodes: TestNode[] = [];
  readonly spawned: SpawnedNode[] = [];
  readonly prefix = `t${randomBytes(4).toString('hex')}:`;
  readonly secret = `cluster-secret-${randomBytes(8).toString('hex')}`;
  private readonly dirs: string[] = [];

  constructor(
    readonly redis: TestRedis,
    readonly storeDir: string,
    private readonly env: Record<string, string>,
  ) {}

  get storeUrl(): string {
    return `sqlite:${path.join(this.storeDir, 'prim.db')}`;
  }

  // The PRIM_* environment of one node of this cluster.
  nodeEnv(nodeId: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      PRIM_REDIS_URL: this.redis.url,
      PRIM_REDIS_PREFIX: this.prefix,
      PRIM_CLUSTER_SECRET: this.secret,
      PRIM_GRPC_PORT: '0',
      PRIM_STORE_URL: this.storeUrl,
      PRIM_NODE_ID: nodeId,
      PRIM_CLUSTER_TTL: '2s',
      PRIM_SHUTDOWN_TIMEOUT: '2s',
      // CLUSTER_TEST_LOG=warn shows what the in-process nodes log.
      ...(process.env.CLUSTER_TEST_LOG ? { PRIM_LOG_LEVEL: process.env.CLUSTER_TEST_LOG } : {}),
      ...this.env,
      ...extra,
    };
  }

  async addNode(nodeId: string, extra: Record<string, string> = {}): Promise<TestNode> {
    const dataDir = tempDir(`prim-${nodeId}-`);
    this.dirs.push(dataDir);
    const node = await startTestNode(this.nodeEnv(nodeId, extra), dataDir);
    this.nodes.push(node);
    return node;
  }

  // `prim serve` in a child process on a fixed port, resolved once its
  // /readyz says ready. The CLI runs the build in dist/.
  async spawnNode(nodeId: string, extra: Record<string, string> = {}): Promise<SpawnedNode> {
    const dataDir = tempDir(`prim-${nodeId}-`);
    this.dirs.push(dataDir);
    const port = await freePort();
    const child = new CliProcess(dataDir, ['serve'], {
      ...this.nodeEnv(nodeId, extra),
      PRIM_DATA_DIR: dataDir,
      PRIM_HTTP_PORT: String(port),
      PRIM_ADMIN_KEY: ADMIN_KEY,
      PRIM_LOG_LEVEL: 'info',
    });
    const spawned: SpawnedNode = {
      nodeId,
      url: `http://127.0.0.1:${port}`,
      adminAuth: `Bearer ${ADMIN_KEY}`,
      process: child,
      port,
      dataDir,
      gone: false,
    };
    void child.exited.then(() => (spawned.gone = true));
    this.spawned.push(spawned);
    await waitReady(spawned);
    const state = await call(spawned.url, 'GET', '/system/state', { auth: spawned.adminAuth });
    if (state.data?.cluster !== true) {
      throw new Error(
        `${nodeId} (prim serve from dist/) is not in cluster mode: ` +
          'is dist/ built from the current source? (npm run build)',
      );
    }
    await this.settle();
    return spawned;
  }

  // Resolves once every node lists every node in /system/state: the
  // cluster is formed, and what a test does next is not a race with a node
  // still joining. A node that has only just joined is the concern of the
  // tests that say so.
  async settle(timeoutMs = 5000): Promise<void> {
    const running = this.nodes.filter((node) => node.context.state === 'ready');
    const spawned = this.spawned.filter((node) => !node.gone);
    const all: Reachable[] = [...running, ...spawned];
    const ids = [
      ...running.map((node) => node.context.nodeId),
      ...spawned.map((node) => node.nodeId),
    ].sort();
    await eventually(async () => {
      for (const node of all) {
        const state = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
        const listed = (state.data?.nodes ?? []).map((entry: { nodeId: string }) => entry.nodeId);
        expect(listed, `the nodes ${node.url} lists`).toEqual(ids);
      }
    }, timeoutMs);
  }

  // A tenant created on the first node; its credentials and tokens work on
  // every node, since the store is shared.
  async tenant(account: string): Promise<ClusterTenant> {
    const first = this.nodes[0] ?? this.spawned[0];
    if (!first) throw new Error('start a node before creating a tenant');
    const created = await call(first.url, 'POST', '/sysClient/createSysClient', {
      auth: first.adminAuth,
      body: { account },
    });
    expect(created.status).toBe(200);
    return new ClusterTenant(first, account, created.data.authCode);
  }

  // Stops the in-process nodes (a clean stop, which needs Redis up), then
  // Redis, then removes every folder.
  async destroy(): Promise<void> {
    for (const spawned of this.spawned) spawned.process.signal('SIGCONT');
    if (!this.redis.running) await this.redis.restart();
    try {
      const stops = this.nodes.map((node) => node.stop());
      await within(Promise.all(stops), STOP_MS, 'the cluster nodes did not stop');
    } finally {
      await this.redis.destroy();
      for (const dir of [this.storeDir, ...this.dirs]) {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

export class ClusterTenant {
  readonly auth: string;

  constructor(
    private readonly home: Reachable,
    readonly account: string,
    readonly authCode: string,
  ) {
    this.auth = `Basic ${Buffer.from(`${account}:${authCode}`).toString('base64')}`;
  }

  // A token issued by the tenant's home node.
  async token(userId: string, appPlatform = 'web', extra: object = {}): Promise<string> {
    const issued = await call(this.home.url, 'POST', '/sysClient/getToken', {
      auth: this.auth,
      body: { userId, appPlatform, ...extra },
    });
    expect(issued.status).toBe(200);
    return issued.data.token as string;
  }

  // A session of the user on `node`, after its welcome.
  async connect(node: { url: string }, userId: string, appPlatform = 'web', extra: object = {}) {
    return connectUser(node.url, await this.token(userId, appPlatform, extra));
  }

  async open(node: { url: string }, userId: string, appPlatform = 'web', extra: object = {}) {
    return (await this.connect(node, userId, appPlatform, extra)).client;
  }

  get(node: { url: string }, route: string, query: Record<string, string | number> = {}) {
    return call(node.url, 'GET', route, { auth: this.auth, query });
  }

  post(node: { url: string }, route: string, body: unknown) {
    return call(node.url, 'POST', route, { auth: this.auth, body });
  }
}

const clusters: TestCluster[] = [];

export async function startCluster(
  nodeIds: string[],
  options: ClusterOptions = {},
): Promise<TestCluster> {
  const redis = await startRedis();
  const cluster = new TestCluster(redis, tempDir('prim-store-'), options.env ?? {});
  clusters.push(cluster);
  // One after the other: the first node creates the store's schema.
  for (const nodeId of nodeIds) await cluster.addNode(nodeId);
  await cluster.settle();
  return cluster;
}

// For afterEach of a cluster test: its clients, child processes, clusters
// and lone nodes, in that order.
export async function cleanUpClusterTest(): Promise<void> {
  closeClients();
  await killCliProcesses();
  await stopClusters();
  await stopTestNodes();
}

// A session limit that tests pipelining hundreds of messages never reach.
export const FAST = { PRIM_LIMITS_MESSAGES_PER_SECOND: '10000' };

// Resolves once every frame pushed to `client` before this call is in
// `client.frames`: the ping's reply comes after them on the same socket.
export async function caughtUp(client: TestClient): Promise<void> {
  expect((await client.request('ping')).action).toBe('ok');
}

// For afterEach, after the clients are closed and child processes killed.
export async function stopClusters(): Promise<void> {
  for (const cluster of clusters.splice(0)) await cluster.destroy();
}

// Waits for a state that no event announces (a record expiring in Redis,
// a node noticing Redis is back): `check` is run until it stops throwing,
// and its last failure is thrown when time is up.
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 5000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function readyz(node: { url: string }) {
  const response = await fetch(`${node.url}/readyz`);
  return { status: response.status, body: (await response.json()) as any };
}

// The nodeIds /system/state lists, as the admin sees it from `node`.
export async function liveNodes(node: Reachable): Promise<string[]> {
  const state = await call(node.url, 'GET', '/system/state', { auth: node.adminAuth });
  expect(state.status).toBe(200);
  return state.data.nodes.map((entry: { nodeId: string }) => entry.nodeId);
}

// A child node is ready once /readyz answers 200; nothing listens before.
async function waitReady(node: SpawnedNode, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | undefined;
  void node.process.exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${node.nodeId} exited with ${exitCode}:\n${node.process.stderr}`);
    }
    try {
      if ((await readyz(node)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${node.nodeId} was not ready within ${timeoutMs}ms:\n${node.process.stderr}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_unused, i) => from + i);
