// `prim nodes`: the cluster's live nodes, read from the registry in Redis.
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, stopClusters } from './helpers/cluster.js';
import { freePort, onlyJson, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/node.js';

afterEach(stopClusters);

describe('prim nodes', () => {
  it('lists every live node with its addresses, uptime and connections', async () => {
    const cluster = await startCluster(['n1', 'n2']);
    const [n1, n2] = cluster.nodes;
    const tenant = await cluster.tenant('acme');
    await tenant.connect(n2, 'alice');
    const env = cluster.nodeEnv('cli');

    // The connection count is the one of the last refresh (every ttl/3).
    await new Promise((resolve) => setTimeout(resolve, 800));
    const listed = onlyJson(await runCli(tempDir(), ['nodes', '--json'], env));
    expect(listed.nodes.map((node: { nodeId: string }) => node.nodeId)).toEqual(['n1', 'n2']);
    const second = listed.nodes[1];
    expect(second).toMatchObject({ http: `127.0.0.1:${n2.port}`, connections: 1 });
    expect(second.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(second.uptimeMs).toBeGreaterThan(0);

    const shown = await runCli(tempDir(), ['nodes'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^NODE ID\s+GRPC ADDRESS\s+HTTP\s+UPTIME\s+CONNECTIONS/);
    expect(shown.stdout).toContain(`127.0.0.1:${n1.port}`);

    await n1.stop();
    const after = onlyJson(await runCli(tempDir(), ['nodes', '--json'], env));
    expect(after.nodes.map((node: { nodeId: string }) => node.nodeId)).toEqual(['n2']);
  });

  it('says what is missing without redis.url, and where Redis was not found', async () => {
    const single = await runCli(tempDir(), ['nodes']);
    expect(single.code).toBe(1);
    expect(single.stderr).toContain('prim nodes needs redis.url');

    const port = await freePort();
    const away = await runCli(tempDir(), ['nodes'], {
      PRIM_REDIS_URL: `redis://127.0.0.1:${port}`,
      PRIM_CLUSTER_SECRET: 'cluster-secret-0123456789',
    });
    expect(away.code).toBe(1);
    expect(away.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
  });
});
