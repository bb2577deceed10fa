// The cluster scenarios of `npm run bench`: what the gRPC hop between two
// nodes costs a message, and what cluster mode costs without it (a
// presence look-up in Redis for the receiver and one for the sender, on
// every message). All three runs have the same shape, the senders writing
// only to users who do not send, and the same hosting (each node in a
// worker thread, see threads.mjs), so that they differ only in where the
// receivers are.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { formatSummary, grid } from '../dist/bench/summary.js';
import { startRedis } from './redis.mjs';
import { loadInThread, nodeInThread } from './threads.mjs';

const SHAPE = { name: '50 connections, 10 senders', connections: 50, senders: 10, size: 100 };

const RUNS = [
  { name: 'single node', nodes: 0 },
  { name: '1 cluster node, both ends on it', nodes: 1 },
  { name: '2 nodes, receivers on the other node', nodes: 2 },
];

// `print(title, lines)` writes a section of the report.
export async function clusterScenarios(root, durationMs, print) {
  let redis;
  try {
    redis = await startRedis(mkdir(root, 'redis'));
  } catch (err) {
    print('cluster scenarios skipped', [`no redis-server of the bench's own: ${err.message}`]);
    return;
  }

  // Two nodes, the load generator and redis-server are four busy threads:
  // on a machine with fewer cores than that, the hop's cost includes
  // waiting for a core, which the report has to say.
  const machine =
    `${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)} ` +
    'before the cluster runs';
  const rows = [];
  try {
    for (const [index, run] of RUNS.entries()) {
      const title = `${SHAPE.name}, ${run.name}`;
      process.stderr.write(`running ${title} for ${durationMs / 1000} s…\n`);
      const dir = mkdir(root, `cluster-${index}`);
      const measured = await measure(run, dir, redis.url, durationMs);
      print(title, formatSummary(measured.result));
      rows.push({ run, ...measured });
    }
  } finally {
    await redis.stop();
  }
  print('cluster runs', [...figures(rows), machine]);
  print('cluster runs compared with the single node', ratios(rows));
}

// One run on fresh nodes; `run.nodes` 0 is a node without Redis.
async function measure(run, dir, redisUrl, durationMs) {
  const adminKey = randomBytes(24).toString('base64url');
  const cluster = {
    PRIM_REDIS_URL: redisUrl,
    // Each run's keys apart from the others', in the one Redis.
    PRIM_REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}:`,
    PRIM_CLUSTER_SECRET: randomBytes(24).toString('base64url'),
    PRIM_GRPC_PORT: '0',
    PRIM_STORE_URL: `sqlite:${path.join(dir, 'prim.db')}`,
  };
  const nodes = [];
  try {
    // One after the other: the first node creates the store's schema.
    for (let n = 1; n <= Math.max(1, run.nodes); n += 1) {
      const dataDir = mkdir(dir, `n${n}`);
      const env = {
        ...nodeEnv(dataDir, adminKey),
        ...(run.nodes > 0 ? { ...cluster, PRIM_NODE_ID: `n${n}` } : {}),
      };
      nodes.push(await nodeInThread(env, dataDir));
    }
    const result = await loadInThread({
      url: nodes[0].url,
      receiverUrl: nodes.at(-1).url,
      connections: SHAPE.connections,
      senders: SHAPE.senders,
      size: SHAPE.size,
      adminKey,
      rate: 0,
      durationMs,
    });
    return { result, writes: await stopAll(nodes) };
  } finally {
    await stopAll(nodes);
  }
}

function nodeEnv(dataDir, adminKey) {
  return {
    PRIM_DATA_DIR: dataDir,
    PRIM_HTTP_PORT: '0',
    PRIM_LOG_LEVEL: 'silent',
    PRIM_ADMIN_KEY: adminKey,
    // The default of 100 a second per session would measure the limiter.
    PRIM_LIMITS_MESSAGES_PER_SECOND: '1000000',
  };
}

// Stops the nodes still in `nodes`, emptying it, and adds up their writes.
async function stopAll(nodes) {
  const total = { transactions: 0, messages: 0 };
  for (const node of nodes.splice(0)) {
    const writes = await node.stop();
    total.transactions += writes.transactions;
    total.messages += writes.messages;
  }
  return total;
}

function figures(rows) {
  return grid([
    ['run', 'acks/s', 'ack p50', 'ack p99', 'push p50', 'push p99', 'msgs/txn', 'errors'],
    ...rows.map(({ run, result, writes }) => [
      run.name,
      String(result.ackedPerSecond),
      ...latencies(result).map((ms) => fixed(ms, 2)),
      fixed(writes.messages / writes.transactions, 1),
      String(result.errors),
    ]),
  ]).concat(['', 'latencies in ms; push: from the send to the receiver']);
}

// Throughput as a share of the single node's, latencies as multiples of its
// own: below 1× is slower for acks/s, above 1× is slower for the others.
function ratios(rows) {
  const [single] = rows;
  const base = latencies(single.result);
  return grid([
    ['run', 'acks/s', 'ack p50', 'ack p99', 'push p50', 'push p99'],
    ...rows
      .slice(1)
      .map(({ run, result }) => [
        run.name,
        times(result.ackedPerSecond / single.result.ackedPerSecond),
        ...latencies(result).map((ms, i) => times(ms / base[i])),
      ]),
  ]);
}

function latencies(result) {
  const { ackLatencyMs: ack, deliveryLatencyMs: push } = result;
  return [ack.p50, ack.p99, push.p50, push.p99].map((ms) => ms ?? Number.NaN);
}

function fixed(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function times(ratio) {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '-';
}

function mkdir(parent, name) {
  const dir = path.join(parent, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
