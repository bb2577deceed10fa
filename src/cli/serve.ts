// `prim serve`: one node in the foreground until SIGTERM or SIGINT, which
// drain it (bounded by shutdownTimeout) before the process exits.
import type { Command } from 'commander';
import { formatDuration } from '../config/values.js';
import type { Config } from '../config/schema.js';
import { PrimError } from '../errors.js';
import type { RunningNode } from '../server/node.js';
import { VERSION } from '../version.js';
import { cliConfig, examples } from './context.js';
import type { Output } from './output.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

// The line a node writes once it listens. `prim start` looks for it in the
// log of the node it spawned: another node on the same port answers
// /readyz as well, and only this line says that its own node listens.
export const SERVING_LINE = /^prim \S+ serving /;

// Listening failures in words that name the setting to change.
function startFailure(err: unknown, config: Config): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const where = `${config.http.host}:${config.http.port}`;
  const setting = 'change http.port (or PRIM_HTTP_PORT)';
  if (code === 'EADDRINUSE') {
    return new PrimError(
      'OPERATION_FAILED',
      `http.port ${config.http.port} is in use (${where}); stop what listens there or ${setting}`,
    );
  }
  if (code === 'EACCES') {
    return new PrimError(
      'OPERATION_FAILED',
      `not allowed to listen on http.port ${config.http.port} (${where}); ` +
        `ports below 1024 need privileges; ${setting}`,
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new PrimError(
      'OPERATION_FAILED',
      `cannot listen on http.host ${config.http.host}: it is not an address of this machine`,
    );
  }
  return err;
}

// Resolves once a signal has drained the node. A second signal during the
// drain gives up on it: the caller exits at once with a failure. A node
// that stopped itself (replaced by another with its nodeId) fails too.
function untilStopped(node: RunningNode, config: Config, out: Output): Promise<void> {
  return new Promise((resolve, reject) => {
    void node.ended.then((reason) => {
      if (reason !== undefined) reject(new PrimError('OPERATION_FAILED', `stopped: ${reason}`));
    });
    let draining = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (draining) {
        reject(new PrimError('OPERATION_FAILED', `${signal} again during the drain; not waiting`));
        return;
      }
      draining = true;
      out.info(
        `${signal}: draining (at most ${formatDuration(config.shutdownTimeout)}, ` +
          'shutdownTimeout); send it again to exit now',
      );
      node.stop().then(resolve, reject);
    };
    for (const signal of SIGNALS) process.on(signal, onSignal);
  });
}

async function serve(command: Command, out: Output): Promise<void> {
  const { config, file } = cliConfig(command, out);
  // Loaded here, not at the top: the server's modules take a good part of a
  // second to load, which every other command would pay for.
  const { createLogger } = await import('../log.js');
  const { startNode } = await import('../server/node.js');
  const logger = createLogger({ level: config.log.level });

  let node: RunningNode;
  try {
    node = await startNode(config, logger);
  } catch (err) {
    throw startFailure(err, config);
  }
  const stopped = untilStopped(node, config, out);

  if (node.adminKey.generated) {
    out.info(`admin key (shown only now; kept in ${node.adminKey.file}): ${node.adminKey.key}`);
  }
  const mode = config.redis.url ? 'cluster' : 'single node';
  out.info(
    `prim ${VERSION} serving ${node.url} · store ${node.context.store.kind} · ${mode} · ` +
      `config ${file ?? 'none (defaults)'}`,
  );
  await stopped;
  out.info('stopped');
}

export function registerServe(program: Command, out: Output): void {
  program
    .command('serve')
    .description('run a node in the foreground; SIGTERM or Ctrl-C drains and stops it')
    .addHelpText(
      'after',
      examples(
        'prim serve',
        'prim serve --config /etc/prim/prim.yaml',
        'PRIM_HTTP_PORT=8080 PRIM_LOG_LEVEL=debug prim serve',
      ),
    )
    .action((_options: unknown, command: Command) => serve(command, out));
}
