// `prim bench`: a load generator against a running node. The work is in
// src/bench/; this file turns flags into options and shows the run.
import type { Command } from 'commander';
import {
  BENCH_LIMITS,
  checkBenchOptions,
  runBench,
  type BenchOptions,
  type BenchProgress,
} from '../bench/runner.js';
import { formatSummary } from '../bench/summary.js';
import { parseBytes, parseDuration, parseInteger } from '../config/values.js';
import { isPrimError } from '../errors.js';
import { examples, withJson } from './context.js';
import { UsageError } from './failure.js';
import type { Output } from './output.js';

interface BenchFlags {
  url: string;
  tenant?: string;
  authCode?: string;
  adminKey?: string;
  connections: string;
  senders: string;
  rate: string;
  size: string;
  duration: string;
}

// Without a terminal nobody sees a line being redrawn, and a log fills up
// with one a second; every few seconds is enough there.
const PLAIN_PROGRESS_EVERY_MS = 5000;

export function registerBench(program: Command, out: Output): void {
  withJson(program.command('bench'))
    .description('load a running node with messages between many users and measure it')
    .option('--url <url>', 'the node to load', 'http://127.0.0.1:8093')
    .option('--tenant <account>', 'send as the users of this tenant (with --auth-code)')
    .option('--auth-code <code>', "that tenant's authCode")
    .option(
      '--admin-key <key>',
      'create a throwaway tenant bench-<random> and read /system/state ' +
        '(default: $PRIM_ADMIN_KEY)',
    )
    .option('--connections <n>', 'users, one connection each; all of them receive', '100')
    .option('--senders <n>', 'how many of those users send', '10')
    .option('--rate <n>', 'messages a second in total; 0: each sender waits for its ack', '0')
    .option('--size <bytes>', 'message size, like 100 or 1KiB', '100')
    .option('--duration <time>', 'how long to send, like 10s or 2m', '10s')
    .addHelpText(
      'after',
      examples(
        'PRIM_ADMIN_KEY=$(cat .prim/admin.key) prim bench',
        'prim bench --admin-key "$KEY" --connections 1000 --senders 100 --rate 5000',
        'prim bench --tenant acme --auth-code "$CODE" --size 1KiB --duration 1m --json',
      ) +
        '\n\nThe node refuses more than limits.messagesPerSecond from one session;' +
        '\nraise it on the node to measure an unthrottled run.',
    )
    .action(async (flags: BenchFlags) => {
      const options = benchOptions(flags);

      // The first Ctrl-C ends the sending and still reports; a second one,
      // with no listener left, quits as usual.
      const abort = new AbortController();
      const stop = () => {
        abort.abort();
        out.info('stopping: waiting for acks, then the summary (Ctrl-C again to quit)');
      };
      process.once('SIGINT', stop);
      const progress = progressLine(process.stderr, options.connections);
      try {
        const result = await runBench({ ...options, signal: abort.signal }, progress.show);
        progress.end();
        out.result(result, () => formatSummary(result));
        const limited = result.errorKinds['error 1012'];
        if (limited) {
          out.hint(
            `the node rate-limited ${limited} messages: raise limits.messagesPerSecond ` +
              'on the node, or lower --rate',
          );
        }
      } finally {
        progress.end();
        process.off('SIGINT', stop);
      }
    });
}

function benchOptions(flags: BenchFlags): BenchOptions {
  const { connections: count, rate, size } = BENCH_LIMITS;
  const connections = usage(() =>
    parseInteger('--connections', flags.connections, count.min, count.max),
  );
  const options: BenchOptions = {
    url: flags.url,
    tenant: flags.tenant,
    authCode: flags.authCode,
    adminKey: flags.adminKey ?? (process.env.PRIM_ADMIN_KEY || undefined),
    connections,
    senders: usage(() => parseInteger('--senders', flags.senders, 1, connections)),
    rate: usage(() => parseInteger('--rate', flags.rate, rate.min, rate.max)),
    size: usage(() => {
      const bytes = parseBytes('--size', flags.size);
      return parseInteger('--size', bytes, size.min, size.max);
    }),
    durationMs: usage(() => parseDuration('--duration', flags.duration)),
  };
  if (options.durationMs <= 0) throw new UsageError('--duration must be longer than 0');
  usage(() => checkBenchOptions(options));
  return options;
}

// A bad flag value is a usage error (exit 2), named by the parser that
// config keys share.
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (isPrimError(err)) throw new UsageError(err.message);
    throw err;
  }
}

// The progress of the run on stderr: one line redrawn in place on a
// terminal, else a plain line every few seconds. The stream is written
// directly because a redrawn line has no newline, which Output always adds.
function progressLine(stream: NodeJS.WriteStream, connections: number) {
  const redraw = Boolean(stream.isTTY);
  let printedAt = -Infinity;
  let drawn = false;

  const describe = (p: BenchProgress) => {
    if (p.phase === 'connecting') return `connecting ${p.connected}/${connections}`;
    const seconds = (p.elapsedMs / 1000).toFixed(0).padStart(4);
    const phase = p.phase === 'draining' ? '  draining' : '';
    return (
      `${seconds}s  sent ${p.sent}  acked ${p.acked}  ${p.ackedPerSecond} msgs/s  ` +
      `errors ${p.errors}${phase}`
    );
  };

  return {
    show(progress: BenchProgress): void {
      if (redraw) {
        stream.write(`\r${describe(progress)}\x1b[K`);
        drawn = true;
      } else if (progress.elapsedMs - printedAt >= PLAIN_PROGRESS_EVERY_MS) {
        stream.write(`${describe(progress)}\n`);
        printedAt = progress.elapsedMs;
      }
    },
    // Clears the redrawn line, so that the summary stands on its own.
    end(): void {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
