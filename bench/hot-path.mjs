// `npm run bench`: the message hot path (frame in → store → push → ack) of a
// node started in this process, measured in a few fixed scenarios, each on
// a fresh node with its data in a temporary folder that is removed after;
// then the cluster scenarios (cluster.mjs), which need a redis-server.
// The load generator runs in a worker thread (threads.mjs).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { formatSummary, grid } from '../dist/bench/summary.js';
import { loadConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';
import { startNode } from '../dist/server/node.js';
import { clusterScenarios } from './cluster.mjs';
import { countWrites, loadInThread } from './threads.mjs';

const SCENARIOS = [
  { name: '1 sender → 1 receiver, sequential', connections: 2, senders: 1, size: 100 },
  { name: '50 connections, 10 senders', connections: 50, senders: 10, size: 100 },
  { name: '200 connections, 50 senders, 1 KiB', connections: 200, senders: 50, size: 1024 },
];
const DURATION_MS = 5000;

await main();

async function main() {
  const root = mkdtempSync(path.join(tmpdir(), 'prim-bench-'));
  const rows = [];
  try {
    for (const [index, scenario] of SCENARIOS.entries()) {
      process.stderr.write(`running ${scenario.name} for ${DURATION_MS / 1000} s…\n`);
      const { result, writes } = await measure(scenario, path.join(root, `node-${index}`));
      print(scenario.name, formatSummary(result));
      rows.push({ scenario, result, writes });
    }
    print('compared with the first scenario', ratios(rows));
    await clusterScenarios(root, DURATION_MS, print);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(
    '\nmsgs/txn: messages per store transaction. Client RSS here is the whole\n' +
      'process: the nodes and the load generator together. In the cluster runs\n' +
      'each node has a worker thread (event loop, heap) of its own, but both\n' +
      'nodes, the load generator and redis-server share this machine.\n',
  );
}

async function measure(scenario, dataDir) {
  const adminKey = randomBytes(24).toString('base64url');
  const { config } = loadConfig({
    cwd: dataDir,
    env: {
      PRIM_DATA_DIR: dataDir,
      PRIM_HTTP_PORT: '0',
      PRIM_LOG_LEVEL: 'silent',
      PRIM_ADMIN_KEY: adminKey,
      // The default of 100 a second per session would measure the limiter.
      PRIM_LIMITS_MESSAGES_PER_SECOND: '1000000',
    },
  });
  const node = await startNode(config, createLogger({ level: 'silent', pretty: false }));
  const writes = countWrites(node.context.store);
  try {
    const result = await loadInThread({
      url: node.url,
      connections: scenario.connections,
      senders: scenario.senders,
      size: scenario.size,
      adminKey,
      rate: 0,
      durationMs: DURATION_MS,
    });
    return { result, writes };
  } finally {
    await node.stop();
  }
}

function ratios(rows) {
  const first = rows[0].result.ackedPerSecond;
  const fixed = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
  return grid([
    ['scenario', 'acks/s', 'vs first', 'msgs/txn', 'ack p99 ms', 'errors'],
    ...rows.map(({ scenario, result, writes }) => [
      scenario.name,
      String(result.ackedPerSecond),
      `${fixed(result.ackedPerSecond / first, 2)}×`,
      fixed(writes.messages / writes.transactions, 1),
      fixed(result.ackLatencyMs.p99 ?? Number.NaN, 2),
      String(result.errors),
    ]),
  ]);
}

function print(title, lines) {
  process.stdout.write(`\n${title}\n${lines.join('\n')}\n`);
}
