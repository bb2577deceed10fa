import { rmSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import { LatencyHistogram } from '../src/bench/latency.js';
import { runBench, type BenchResult } from '../src/bench/runner.js';
import { CliProcess, freePort, killCliProcesses, onlyJson, runCli } from './helpers/cli.js';
import { startCluster, stopClusters } from './helpers/cluster.js';
import { startTestNode, stopTestNodes, tempDir } from './helpers/node.js';
import { call } from './helpers/rest.js';

const folders: string[] = [];

afterEach(async () => {
  await killCliProcesses();
  await stopTestNodes();
  await stopClusters();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const dir = tempDir('prim-bench-cli-');
  folders.push(dir);
  return dir;
}

// A short, gentle run: well under the node's limits.messagesPerSecond.
const SHORT_RUN = ['--connections', '2', '--senders', '1', '--rate', '20', '--duration', '300ms'];

// The node's default of 100 a second per session would refuse an
// unthrottled sender within its first second.
const UNLIMITED = { PRIM_LIMITS_MESSAGES_PER_SECOND: '1000000' };

function expectLatencies(result: BenchResult): void {
  for (const summary of [result.ackLatencyMs, result.deliveryLatencyMs]) {
    for (const value of [summary.p50, summary.p95, summary.p99, summary.max]) {
      expect(typeof value).toBe('number');
      expect(value).toBeGreaterThanOrEqual(0);
    }
  }
}

test('an unthrottled run acks and delivers every message it sends', async () => {
  const node = await startTestNode(UNLIMITED);
  const result = await runBench({
    url: node.url,
    adminKey: node.adminKey.key,
    connections: 4,
    senders: 2,
    rate: 0,
    size: 100,
    durationMs: 1000,
  });

  expect(result.sent).toBeGreaterThan(0);
  expect(result.acked).toBe(result.sent);
  expect(result.delivered).toBe(result.acked);
  expect(result.errors).toBe(0);
  expect(result.errorKinds).toEqual({});
  expectLatencies(result);
  expect(result.tenant).toMatch(/^bench-[0-9a-f]{8}$/);
  expect(result.nodeState?.connections).toBe(4);
  expect(result.clientRssBytes).toBeGreaterThan(0);
});

test('the throwaway tenant is disabled when the run ends', async () => {
  const node = await startTestNode(UNLIMITED);
  const result = await runBench({
    url: node.url,
    adminKey: node.adminKey.key,
    connections: 2,
    senders: 1,
    rate: 0,
    size: 10,
    durationMs: 100,
  });

  const tenant = await call(node.url, 'GET', '/sysClient/getSysClient', {
    auth: node.adminAuth,
    query: { account: result.tenant },
  });
  expect(tenant.data.disabled).toBe(true);
});

test("a run at a rate with a tenant's own credentials reads no node state", async () => {
  const node = await startTestNode(UNLIMITED);
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account: 'acme' },
  });
  const result = await runBench({
    url: node.url,
    tenant: 'acme',
    authCode: created.data.authCode,
    connections: 3,
    senders: 3,
    rate: 200,
    size: 1024,
    durationMs: 500,
  });

  expect(result.sent).toBeGreaterThan(0);
  expect(result.acked).toBe(result.sent);
  expect(result.delivered).toBe(result.acked);
  expect(result.errors).toBe(0);
  expect(result.tenant).toBe('acme');
  expect(result.nodeState).toBeNull();
  expectLatencies(result);
});

test('messages the node rate-limits are counted as errors with their code', async () => {
  const node = await startTestNode({ PRIM_LIMITS_MESSAGES_PER_SECOND: '5' });
  const result = await runBench({
    url: node.url,
    adminKey: node.adminKey.key,
    connections: 2,
    senders: 1,
    rate: 0,
    size: 10,
    durationMs: 300,
  });

  expect(result.errorKinds['error 1012']).toBeGreaterThan(0);
  expect(result.errors).toBe(result.sent - result.acked);
});

test('a node that is not running is named in the error', async () => {
  const node = await startTestNode();
  await node.stop();

  await expect(
    runBench({
      url: node.url,
      adminKey: node.adminKey.key,
      connections: 2,
      senders: 1,
      rate: 0,
      size: 10,
      durationMs: 100,
    }),
  ).rejects.toThrow(`no node is running at ${node.url}`);
});

test('with receivers on another node, every message crosses to that node', async () => {
  const cluster = await startCluster(['n1', 'n2'], { env: UNLIMITED });
  const [senders, receivers] = cluster.nodes;
  const result = await runBench({
    url: senders.url,
    receiverUrl: receivers.url,
    adminKey: senders.adminKey.key,
    connections: 5,
    senders: 2,
    rate: 0,
    size: 100,
    durationMs: 500,
  });

  expect(result.sent).toBeGreaterThan(0);
  expect(result.acked).toBe(result.sent);
  expect(result.delivered).toBe(result.acked);
  expect(result.errors).toBe(0);
  expect(result.receiverUrl).toBe(receivers.url);
  // The sending node holds the senders' sessions only.
  expect(result.nodeState?.connections).toBe(2);
  expectLatencies(result);
});

test('receivers of their own need fewer senders than connections', async () => {
  await expect(
    runBench({
      url: 'http://127.0.0.1:1',
      receiverUrl: 'http://127.0.0.1:2',
      adminKey: 'unused-admin-key',
      connections: 2,
      senders: 2,
      rate: 0,
      size: 10,
      durationMs: 100,
    }),
  ).rejects.toThrow('receiverUrl: 2 senders of 2 connections leave nobody to receive');
});

test('more senders than connections are refused', async () => {
  await expect(
    runBench({
      url: 'http://127.0.0.1:1',
      adminKey: 'unused-admin-key',
      connections: 2,
      senders: 3,
      rate: 0,
      size: 10,
      durationMs: 100,
    }),
  ).rejects.toThrow('--senders: 3 is not allowed');
});

test('latency percentiles are within 1% of the samples', () => {
  const histogram = new LatencyHistogram();
  for (let ms = 1; ms <= 1000; ms += 1) histogram.record(ms);

  const summary = histogram.summary();
  expect(summary.p50).toBeGreaterThanOrEqual(500);
  expect(summary.p50).toBeLessThanOrEqual(505);
  expect(summary.p99).toBeGreaterThanOrEqual(990);
  expect(summary.p99).toBeLessThanOrEqual(1000);
  expect(summary.max).toBe(1000);
  expect(new LatencyHistogram().summary().p50).toBeNull();
});

// `prim serve` in `dir` on a free port, which `env` passes on to every
// command run there.
async function serveIn(dir: string, env: Record<string, string>): Promise<CliProcess> {
  const node = new CliProcess(dir, ['serve'], env);
  await node.waitForStderr(/serving http:\/\/\S+/);
  return node;
}

test("prim bench loads the config's node with its admin key, then deletes the tenant", async () => {
  const dir = folder();
  const port = String(await freePort());
  expect((await runCli(dir, ['init', '--yes', '--http-port', port])).code).toBe(0);
  await serveIn(dir, {});

  const run = await runCli(dir, ['bench', ...SHORT_RUN, '--json']);

  expect(run.code).toBe(0);
  const result = onlyJson(run);
  expect(result.url).toBe(`http://127.0.0.1:${port}`);
  expect(result.tenant).toMatch(/^bench-[0-9a-f]{8}$/);
  expect(result.acked).toBeGreaterThan(0);
  expect(result.nodeState.connections).toBe(2);
  expect(run.stderr).toContain(`deleted the throwaway tenant ${result.tenant} and its messages`);
  const left = await runCli(dir, ['tenant', 'list', '--json']);
  expect(onlyJson(left)).toEqual({ tenants: [], total: 0 });
});

test('prim bench finds the admin key a node without a config generated', async () => {
  const dir = folder();
  const env = { PRIM_HTTP_PORT: String(await freePort()) };
  await serveIn(dir, env);

  const run = await runCli(dir, ['bench', ...SHORT_RUN], env);

  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^tenant +bench-[0-9a-f]{8}\n/);
  expect(run.stderr).toMatch(/deleted the throwaway tenant bench-[0-9a-f]{8} and its messages/);
});

test('prim bench sends no config key to another node; its tenant stays disabled', async () => {
  const dir = folder();
  expect((await runCli(dir, ['init', '--yes'])).code).toBe(0);
  const node = await startTestNode();

  const refused = await runCli(dir, ['bench', '--url', node.url, ...SHORT_RUN]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(
    `error: no admin key for ${node.url}: the config's key is sent only to its own node`,
  );

  const run = await runCli(dir, [
    'bench',
    '--url',
    node.url,
    '--admin-key',
    node.adminKey.key,
    ...SHORT_RUN,
    '--json',
  ]);
  expect(run.code).toBe(0);
  const { tenant } = onlyJson(run);
  expect(run.stderr).toContain(
    `the throwaway tenant ${tenant} is left disabled on ${node.url}; ` +
      `remove it with \`prim tenant delete ${tenant} --yes\``,
  );
  const left = await call(node.url, 'GET', '/sysClient/getSysClient', {
    auth: node.adminAuth,
    query: { account: tenant },
  });
  expect(left.data.disabled).toBe(true);
});

test('prim bench --help names the defaults and how the throwaway tenant is removed', async () => {
  const help = await runCli(folder(), ['bench', '--help']);
  // Commander wraps the option descriptions to the width of the terminal.
  const text = help.stdout.replace(/\s+/g, ' ');

  expect(help.code).toBe(0);
  expect(text).toContain("--url <url> the node to load (default: the config's http.host and");
  expect(text).toContain("for the config's own node also its adminKey, else <dataDir>/admin.key");
  expect(text).toContain('deleted from the store; on another node, remove it there with');
  expect(text).toContain('`prim tenant delete bench-… --yes`');
  expect(text).not.toContain('$(cat');
});

test('prim bench fails when not one message was acked, with one JSON document', async () => {
  const dir = folder();
  const port = String(await freePort());
  expect((await runCli(dir, ['init', '--yes', '--http-port', port])).code).toBe(0);
  await serveIn(dir, {});

  // Messages larger than limits.maxFrameBytes (64 KiB) close the connections.
  const run = await runCli(dir, ['bench', ...SHORT_RUN, '--size', '100000', '--json']);

  expect(run.code).toBe(1);
  expect(onlyJson(run).error).toMatchObject({
    code: 1009,
    message: expect.stringMatching(/^none of the \d+ messages sent was acked/),
  });
  expect(run.stderr).toContain('close 1009');
});
