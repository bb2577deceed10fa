// A bench result as text for a person: the counts, then the latencies as a
// table. `prim bench` and bench/hot-path.mjs print the same lines.
import type { LatencySummary } from './latency.js';
import type { BenchResult } from './runner.js';

export function formatSummary(result: BenchResult): string[] {
  const counts: Array<[string, string]> = [
    ['tenant', result.tenant],
    ['connections', connectionsText(result)],
    ['rate', result.rate === 0 ? 'unthrottled (next message on ack)' : `${result.rate} msgs/s`],
    ['message size', `${result.size} bytes`],
    ['connect time', `${result.connectMs} ms`],
    ['sending time', `${(result.durationMs / 1000).toFixed(1)} s`],
    ['sent', String(result.sent)],
    ['acked', `${result.acked} (${result.ackedPerSecond} msgs/s)`],
    ['delivered', String(result.delivered)],
    ['errors', errorsText(result)],
    ['client RSS', `${(result.clientRssBytes / 1024 / 1024).toFixed(1)} MiB`],
  ];
  if (result.nodeState) counts.push(['node', nodeText(result.nodeState)]);

  const latency = grid([
    ['latency (ms)', 'p50', 'p95', 'p99', 'max'],
    ['ack', ...latencyCells(result.ackLatencyMs)],
    ['delivery', ...latencyCells(result.deliveryLatencyMs)],
  ]);
  const width = Math.max(...counts.map(([name]) => name.length));
  const lines = counts.map(([name, value]) => `${name.padEnd(width)}  ${value}`);
  return [...lines, '', ...latency];
}

// With receivers of their own, where each side was connected.
function connectionsText(result: BenchResult): string {
  const { connections, senders, url, receiverUrl } = result;
  if (receiverUrl === undefined) return `${connections}, ${senders} sending`;
  const where = receiverUrl === url ? 'the same node' : receiverUrl;
  const receivers = connections - senders;
  return `${connections}: ${senders} sending on ${url}, ${receivers} receiving on ${where}`;
}

function errorsText(result: BenchResult): string {
  const kinds = Object.entries(result.errorKinds).map(([kind, n]) => `${kind} ×${n}`);
  return kinds.length === 0 ? String(result.errors) : `${result.errors} (${kinds.join(', ')})`;
}

function nodeText(state: Record<string, unknown>): string {
  const { nodeId, store, connections, version } = state;
  return (
    `${String(nodeId)}, prim ${String(version)}, ${String(store)}, ` +
    `${String(connections)} connections`
  );
}

function latencyCells(summary: LatencySummary): string[] {
  return [summary.p50, summary.p95, summary.p99, summary.max].map(milliseconds);
}

// Two significant decimals where they mean something, none where they do not.
function milliseconds(ms: number | null): string {
  if (ms === null) return '-';
  return ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0);
}

// Rows of cells padded to the widest cell of each column: the first column
// (the names) left-aligned, the others right-aligned so that numbers line up.
export function grid(rows: string[][]): string[] {
  const widths = rows[0].map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows.map((row) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0]) : cell.padStart(widths[column]),
      )
      .join('  ')
      .trimEnd(),
  );
}
