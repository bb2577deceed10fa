// A bench run against one node: users, their connections, a timed burst of
// messages between them, and what was measured.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PrimError } from '../errors.js';
import { BenchConnection, messageText } from './connection.js';
import type { LatencySummary } from './latency.js';
import { mapLimited } from './limited.js';
import { BenchNode, nodeOrigin } from './rest.js';
import { Tally } from './tally.js';
import {
  benchTenant,
  checkCredentials,
  issueTokens,
  retireTenant,
  type BenchCredentials,
  type BenchTenant,
} from './tenant.js';

export interface BenchOptions extends BenchCredentials {
  // http(s)://host:port of a running node.
  url: string;
  // Another node of the same cluster (or the same one) for the users who
  // do not send. With it, senders write only to those users, so that every
  // message is pushed to a session there: `bench/hot-path.mjs` measures the
  // hop between two nodes with it.
  receiverUrl?: string;
  // Users, one connection each; every one of them receives, unless
  // receiverUrl gives the receivers a node of their own.
  connections: number;
  // How many of those users send, each to the others in turn (with
  // receiverUrl, to the users who do not send).
  senders: number;
  // Messages a second from all senders together; 0 means each sender
  // sends its next message as soon as the previous one is acked.
  rate: number;
  // Bytes of message text; the send-time stamp counts towards it.
  size: number;
  durationMs: number;
  // How long acks and pushes still on their way are waited for at the end.
  drainTimeoutMs?: number;
  progressIntervalMs?: number;
  // Ends the sending early; the run then drains and reports as usual.
  signal?: AbortSignal;
  // Told the account of the throwaway tenant as soon as it exists, so that
  // the caller can name it, or remove it, even when the run then fails.
  onThrowawayTenant?: (account: string) => void;
}

export interface BenchProgress {
  phase: 'connecting' | 'sending' | 'draining';
  elapsedMs: number;
  connected: number;
  sent: number;
  acked: number;
  delivered: number;
  errors: number;
  // Over the last progress interval, not the whole run.
  ackedPerSecond: number;
}

export interface BenchResult {
  url: string;
  // Set when the run had receivers of their own, on this node.
  receiverUrl?: string;
  tenant: string;
  connections: number;
  senders: number;
  rate: number;
  size: number;
  connectMs: number;
  // The time messages were being sent, as measured.
  durationMs: number;
  sent: number;
  acked: number;
  delivered: number;
  errors: number;
  errorKinds: Record<string, number>;
  // Acks within the sending time, per second of it.
  ackedPerSecond: number;
  ackLatencyMs: LatencySummary;
  deliveryLatencyMs: LatencySummary;
  // The highest RSS of this process seen during the run.
  clientRssBytes: number;
  // The node's /system/state after the drain, with the bench's connections
  // still open; null without an admin key.
  nodeState: Record<string, unknown> | null;
}

export const BENCH_LIMITS = {
  connections: { min: 2, max: 100_000 },
  rate: { min: 0, max: 10_000_000 },
  size: { min: 1, max: 16 * 1024 * 1024 },
} as const;

// /acc connections being opened at once.
const CONNECT_CONCURRENCY = 32;
// With a rate, how often the senders are topped up to it.
const TICK_MS = 10;
// With a rate, messages one sender may have unacked; past that the node is
// not keeping up, and the slot is skipped instead of queued in this process.
const MAX_IN_FLIGHT = 1000;
// How often the drain looks whether everything has arrived.
const DRAIN_POLL_MS = 20;

export async function runBench(
  options: BenchOptions,
  onProgress: (progress: BenchProgress) => void = () => {},
): Promise<BenchResult> {
  checkBenchOptions(options);
  const node = new BenchNode(options.url);
  const tenant = await benchTenant(node, options);
  if (tenant.throwaway) options.onThrowawayTenant?.(tenant.account);
  try {
    const receivers = options.receiverUrl ? new BenchNode(options.receiverUrl) : node;
    return await runAs({ node, receivers }, tenant, options, onProgress);
  } finally {
    // Nobody else knows a throwaway tenant's authCode, so one left enabled
    // by a node that went away is harmless; disabling it marks it as done.
    if (tenant.throwaway) await retireTenant(node, tenant, options.adminKey!).catch(() => {});
  }
}

// What the numbers alone do not say: a node URL, senders that are some of
// the connections, and a tenant to send as.
export function checkBenchOptions(options: BenchOptions): void {
  const { connections, senders, receiverUrl } = options;
  nodeOrigin(options.url);
  if (!Number.isInteger(senders) || senders < 1 || senders > connections) {
    throw new PrimError(
      'BAD_PARAMETER',
      `--senders: ${senders} is not allowed; use a whole number from 1 to ` +
        `--connections (${connections})`,
    );
  }
  if (receiverUrl !== undefined) {
    nodeOrigin(receiverUrl);
    if (senders === connections) {
      throw new PrimError(
        'BAD_PARAMETER',
        `receiverUrl: ${senders} senders of ${connections} connections leave ` +
          'nobody to receive; use fewer senders than connections',
      );
    }
  }
  checkCredentials(options);
}

// The node the senders connect to, which also issues the tokens, and the
// one the receivers connect to.
interface BenchNodes {
  node: BenchNode;
  receivers: BenchNode;
}

async function runAs(
  { node, receivers }: BenchNodes,
  tenant: BenchTenant,
  options: BenchOptions,
  onProgress: (progress: BenchProgress) => void,
): Promise<BenchResult> {
  const tally = new Tally();
  const begun = performance.now();
  const runId = randomBytes(3).toString('hex');
  const userIds = Array.from({ length: options.connections }, (_, i) => `bench-${runId}-${i}`);
  // In the order they opened, to be closed whatever happens; the list by
  // user is `connections` below.
  const opened: BenchConnection[] = [];
  let phase: BenchProgress['phase'] = 'connecting';
  let rss = process.memoryUsage.rss();
  let last = { at: begun, acked: 0 };

  const report = () => {
    const now = performance.now();
    rss = Math.max(rss, process.memoryUsage.rss());
    const perSecond = ((tally.acked - last.acked) * 1000) / Math.max(1, now - last.at);
    last = { at: now, acked: tally.acked };
    onProgress({
      phase,
      elapsedMs: Math.round(now - begun),
      connected: opened.length,
      sent: tally.sent,
      acked: tally.acked,
      delivered: tally.delivered,
      errors: tally.errors,
      ackedPerSecond: Math.round(perSecond),
    });
  };
  const progress = setInterval(report, options.progressIntervalMs ?? 1000);

  try {
    const tokens = await issueTokens(node, tenant, userIds);
    // connections[i] is user i's, whatever order they opened in: a sender
    // must never pick itself as the receiver.
    const connections = await mapLimited(tokens, CONNECT_CONCURRENCY, async (token, i) => {
      const at = i < options.senders ? node : receivers;
      const connection = await BenchConnection.open(at.accUrl(token), at.baseUrl, tally);
      opened.push(connection);
      return connection;
    });
    const connectMs = performance.now() - begun;

    phase = 'sending';
    const started = performance.now();
    const stopSending = startSending(connections, userIds, options);
    await sendingTime(options.durationMs, options.signal);
    stopSending();
    const durationMs = performance.now() - started;
    const ackedInTime = tally.acked;

    phase = 'draining';
    await drain(connections, tally, options.drainTimeoutMs ?? 5000);
    rss = Math.max(rss, process.memoryUsage.rss());
    const nodeState: BenchResult['nodeState'] = options.adminKey
      ? await node.call('GET', '/system/state', `Bearer ${options.adminKey}`)
      : null;

    return {
      url: node.baseUrl,
      ...(options.receiverUrl ? { receiverUrl: receivers.baseUrl } : {}),
      tenant: tenant.account,
      connections: options.connections,
      senders: options.senders,
      rate: options.rate,
      size: options.size,
      connectMs: Math.round(connectMs),
      durationMs: Math.round(durationMs),
      sent: tally.sent,
      acked: tally.acked,
      delivered: tally.delivered,
      errors: tally.errors,
      errorKinds: Object.fromEntries(tally.errorKinds),
      ackedPerSecond: Math.round((ackedInTime * 1000) / Math.max(1, durationMs)),
      ackLatencyMs: tally.ackLatency.summary(),
      deliveryLatencyMs: tally.deliveryLatency.summary(),
      clientRssBytes: rss,
      nodeState,
    };
  } finally {
    clearInterval(progress);
    await Promise.all(opened.map((connection) => connection.close()));
  }
}

// Starts the senders; returns the function that stops them.
function startSending(
  connections: BenchConnection[],
  userIds: string[],
  options: BenchOptions,
): () => void {
  const { senders, rate, size } = options;
  const padding = 'x'.repeat(size);
  const count = new Array<number>(senders).fill(0);
  const receivers = userIds.length - senders;
  let sending = true;

  // Sender i writes to every other user in turn, so that each connection
  // receives and no pair of users carries the whole load; with receivers
  // of their own, to each of them in turn.
  const target = (i: number) =>
    options.receiverUrl
      ? senders + ((i + count[i]) % receivers)
      : (i + 1 + (count[i] % (userIds.length - 1))) % userIds.length;
  const sendOne = (i: number) => {
    const to = target(i);
    count[i] += 1;
    connections[i].send(userIds[to], messageText(size, padding));
  };

  if (rate === 0) {
    for (let i = 0; i < senders; i += 1) {
      connections[i].onSettled = () => {
        if (sending) sendOne(i);
      };
      sendOne(i);
    }
    return () => (sending = false);
  }

  const started = performance.now();
  let issued = 0;
  let cursor = 0;
  const ticker = setInterval(() => {
    const due = Math.floor((rate * (performance.now() - started)) / 1000);
    for (; issued < due; issued += 1) {
      if (connections[cursor].pending < MAX_IN_FLIGHT) sendOne(cursor);
      cursor = (cursor + 1) % senders;
    }
  }, TICK_MS);
  return () => clearInterval(ticker);
}

function sendingTime(durationMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, durationMs);
    signal?.addEventListener('abort', done);
  });
}

// Waits, at most `timeoutMs`, until every message sent is acked or refused
// and every push that an ack announced has arrived.
async function drain(connections: BenchConnection[], tally: Tally, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  const settled = () =>
    connections.every((connection) => connection.pending === 0) &&
    tally.delivered >= tally.expectedPushes;
  while (!settled() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
}
