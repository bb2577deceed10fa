import { afterEach, expect, test } from 'vitest';
import { LatencyHistogram } from '../src/bench/latency.js';
import { runBench, type BenchResult } from '../src/bench/runner.js';
import { startTestNode, stopTestNodes } from './helpers/node.js';
import { call } from './helpers/rest.js';

afterEach(stopTestNodes);

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
