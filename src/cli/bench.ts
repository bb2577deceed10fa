// `prim bench`: a load generator against a running node. The work is in
// src/bench/; this file turns flags and the config into options, shows the
// run, and puts the throwaway tenant away afterwards.
import path from 'node:path';
import type { Command } from 'commander';
import {
  BENCH_LIMITS,
  checkBenchOptions,
  runBench,
  type BenchOptions,
  type BenchProgress,
} from '../bench/runner.js';
import { existingAdminKey } from '../auth/admin-key.js';
import { nodeOrigin } from '../bench/rest.js';
import { formatSummary } from '../bench/summary.js';
import type { Config } from '../config/schema.js';
import { formatDuration, parseBytes, parseDuration, parseInteger } from '../config/values.js';
import { isPrimError, PrimError } from '../errors.js';
import { cliConfig, examples, withJson, withTenants } from './context.js';
import { UsageError } from './failure.js';
import type { Output } from './output.js';
import { nodeUrl, runningNodeUrl } from './rest.js';

interface BenchFlags {
  url?: string;
  tenant?: string;
  authCode?: string;
  adminKey?: string;
  connections: string;
  senders: string;
  rate: string;
  size: string;
  duration: string;
}

// The node a run loads, and whether it is the config's own: only that one
// is sent the config's admin key, and only its store is this CLI's to
// remove the throwaway tenant from.
interface Target {
  url: string;
  own: boolean;
}

// Without a terminal nobody sees a line being redrawn, and a log fills up
// with one a second; every few seconds is enough there.
const PLAIN_PROGRESS_EVERY_MS = 5000;
const MAX_DURATION_MS = 24 * 3600_000;

export function registerBench(program: Command, out: Output): void {
  withJson(program.command('bench'))
    .description('load a running node with messages between many users and measure it')
    .option('--url <url>', "the node to load (default: the config's http.host and http.port)")
    .option('--tenant <account>', 'send as the users of this tenant (with --auth-code)')
    .option('--auth-code <code>', "that tenant's authCode")
    .option(
      '--admin-key <key>',
      'create a throwaway tenant bench-<random> and read /system/state (default: ' +
        "$PRIM_ADMIN_KEY; for the config's own node also its adminKey, else " +
        '<dataDir>/admin.key)',
    )
    .option('--connections <n>', 'users, one connection each; all of them receive', '100')
    .option('--senders <n>', 'how many of those users send', '10')
    .option('--rate <n>', 'messages a second in total; 0: each sender waits for its ack', '0')
    .option('--size <bytes>', 'message size, like 100 or 1KiB', '100')
    .option('--duration <time>', 'how long to send, like 10s or 2m', '10s')
    .addHelpText(
      'after',
      examples(
        "prim bench                                  # the config's node and admin key",
        'prim bench --connections 1000 --senders 100 --rate 5000',
        'prim bench --url http://10.0.0.5:8093 --admin-key "$KEY" --duration 1m',
        'prim bench --tenant acme --auth-code "$CODE" --size 1KiB --json',
      ) +
        '\n\nWithout --tenant the run creates a throwaway tenant bench-<random> and' +
        "\ndisables it at the end. On the config's own node it is then deleted from" +
        '\nthe store; on another node, remove it there with' +
        '\n`prim tenant delete bench-… --yes`.' +
        '\n\nThe node refuses more than limits.messagesPerSecond from one session;' +
        '\nraise it on the node to measure an unthrottled run.',
    )
    .action(async (flags: BenchFlags, command: Command) => {
      const { config } = cliConfig(command, out);
      const target = benchTarget(flags, config);
      const options = benchOptions(flags, target, config);

      // The first Ctrl-C ends the sending and still reports; a second one,
      // with no listener left, quits as usual.
      const abort = new AbortController();
      const stop = () => {
        abort.abort();
        out.info('stopping: waiting for acks, then the summary (Ctrl-C again to quit)');
      };
      process.once('SIGINT', stop);
      const progress = progressLine(process.stderr, options.connections);
      let throwaway: string | undefined;
      try {
        const result = await runBench(
          {
            ...options,
            signal: abort.signal,
            onThrowawayTenant: (account) => (throwaway = account),
          },
          progress.show,
        );
        progress.end();
        // A run in which nothing got through measured nothing: it fails,
        // with its summary among the diagnostics.
        if (result.sent > 0 && result.acked === 0) {
          out.diagnostic(formatSummary(result).join('\n'));
          throw new PrimError(
            'OPERATION_FAILED',
            `none of the ${result.sent} messages sent was acked; see the errors above ` +
              '(a --size over limits.maxFrameBytes closes the connections with 1009)',
          );
        }
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
        if (throwaway) await putAway(throwaway, target, config, out);
      }
    });
}

function benchTarget(flags: BenchFlags, config: Config): Target {
  if (flags.url === undefined) return { url: runningNodeUrl(config), own: true };
  const origin = usage(() => nodeOrigin(flags.url!));
  // http.port 0 has no address to compare with, so such a config's node
  // is never the one named by --url.
  const own = config.http.port !== 0 && new URL(nodeUrl(config)).origin === origin;
  return { url: flags.url, own };
}

// The admin key as the flag, the environment or the config of the node
// gives it. A key from the config (or the admin.key file the node made) is
// that node's, and goes to no other.
function adminKeyFor(flags: BenchFlags, target: Target, config: Config): string | undefined {
  if (flags.adminKey) return flags.adminKey;
  if (process.env.PRIM_ADMIN_KEY) return process.env.PRIM_ADMIN_KEY;
  if (!target.own) return undefined;
  return existingAdminKey(config.adminKey, config.dataDir);
}

function benchOptions(flags: BenchFlags, target: Target, config: Config): BenchOptions {
  const { connections: count, rate, size } = BENCH_LIMITS;
  const connections = usage(() =>
    parseInteger('--connections', flags.connections, count.min, count.max),
  );
  const options: BenchOptions = {
    url: target.url,
    tenant: flags.tenant,
    authCode: flags.authCode,
    adminKey: adminKeyFor(flags, target, config),
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
  // The run ends on a timer, and a timer past about 24 days fires at once.
  if (options.durationMs > MAX_DURATION_MS) {
    throw new UsageError(
      `--duration: "${flags.duration}" is not allowed; use at most ` +
        formatDuration(MAX_DURATION_MS),
    );
  }
  if (options.tenant === undefined && options.authCode === undefined && !options.adminKey) {
    throw new UsageError(noAdminKey(target, config));
  }
  usage(() => checkBenchOptions(options));
  return options;
}

function noAdminKey(target: Target, config: Config): string {
  const give = 'give --admin-key (or PRIM_ADMIN_KEY), or --tenant with --auth-code';
  if (!target.own) {
    return `no admin key for ${target.url}: the config's key is sent only to its own node; ` + give;
  }
  return (
    `no admin key: the config has no adminKey and ` +
    `${path.join(config.dataDir, 'admin.key')} does not exist; ${give}`
  );
}

// A throwaway tenant has been disabled by the run (if its node was still
// there). On the config's own node it is deleted from the store, messages
// and all; elsewhere this CLI has no store to delete it from.
async function putAway(account: string, target: Target, config: Config, out: Output) {
  const remove = `prim tenant delete ${account} --yes`;
  if (!target.own) {
    out.hint(
      `the throwaway tenant ${account} is left disabled on ${target.url}; ` +
        `remove it with \`${remove}\` on that node's config`,
    );
    return;
  }
  try {
    await withTenants(config, (tenants) => tenants.delete(account));
    out.hint(`deleted the throwaway tenant ${account} and its messages`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    out.warn(
      `the throwaway tenant ${account} is left disabled: deleting it failed (${reason}); ` +
        `remove it with \`${remove}\``,
    );
  }
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
