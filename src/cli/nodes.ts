// `prim nodes`: the live nodes of the cluster, read from the registry in
// Redis, so it answers even when no node runs on this host.
import type { Command } from 'commander';
import { PrimError } from '../errors.js';
import { cliConfig, examples, withJson } from './context.js';
import { elapsed, table, type Output } from './output.js';

export function registerNodes(program: Command, out: Output): void {
  withJson(program.command('nodes'))
    .description("the cluster's live nodes: id, addresses, uptime, connections")
    .addHelpText('after', examples('prim nodes', 'prim nodes --json'))
    .action(async (_options: unknown, command: Command) => {
      const { config } = cliConfig(command, out);
      if (!config.redis.url) {
        throw new PrimError(
          'BAD_PARAMETER',
          'prim nodes needs redis.url (cluster mode); a single node is shown by `prim status`',
        );
      }
      // Loaded here: ioredis is not needed by any other command.
      const { connectRedis } = await import('../cluster/redis.js');
      const { NodeDirectory } = await import('../cluster/directory.js');
      const { Keys } = await import('../cluster/keys.js');
      const redis = await connectRedis(config);
      try {
        const directory = new NodeDirectory(
          redis,
          new Keys(config.redis.prefix),
          config.cluster.ttl,
        );
        const now = Date.now();
        const nodes = (await directory.list()).map((node) => ({
          ...node,
          uptimeMs: now - node.startedAt,
        }));
        out.result({ nodes }, () =>
          table(
            ['node id', 'grpc address', 'http', 'uptime', 'connections', 'version'],
            nodes.map((node) => [
              node.nodeId,
              node.address,
              node.http,
              elapsed(node.uptimeMs),
              String(node.connections),
              node.version,
            ]),
          ),
        );
        if (nodes.length === 0)
          out.hint(`no live node is registered under "${config.redis.prefix}"`);
      } finally {
        await redis.quit().catch(() => redis.disconnect());
      }
    });
}
