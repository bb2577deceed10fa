// Starting a cluster node: what stops it, in words that name the setting.
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { startNode } from '../src/server/node.js';
import { makeCerts } from './helpers/certs.js';
import { freePort } from './helpers/cli.js';
import { startRedis, stopRedisServers } from './helpers/redis.js';
import { startTestNode, stopTestNodes, tempDir, testConfig } from './helpers/node.js';
import { call } from './helpers/rest.js';

const servers: Server[] = [];

afterEach(async () => {
  await stopTestNodes();
  await stopRedisServers();
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

const clusterEnv = (redisUrl: string) => ({
  PRIM_REDIS_URL: redisUrl,
  PRIM_CLUSTER_SECRET: 'cluster-secret-0123456789',
  PRIM_GRPC_PORT: '0',
  PRIM_STORE_URL: `sqlite:${tempDir()}/prim.db`,
});

describe('cluster node start', () => {
  it('fails when Redis cannot be reached, naming the URL without its password', async () => {
    const port = await freePort();
    await expect(
      startTestNode(clusterEnv(`redis://user:hunter2@127.0.0.1:${port}`)),
    ).rejects.toThrow(
      `cannot reach Redis at redis://[Redacted]@127.0.0.1:${port} (redis.url): connect ECONNREFUSED`,
    );
  });

  it('fails when grpc.port is taken, naming the setting', async () => {
    const redis = await startRedis();
    const port = await freePort();
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    await expect(
      startTestNode({ ...clusterEnv(redis.url), PRIM_GRPC_PORT: String(port) }),
    ).rejects.toThrow(`grpc.port ${port} is in use`);
    // Nothing was left behind in Redis by the node that did not start.
    expect(await redis.allKeys()).toEqual([]);
  });

  it('fails when grpc.host is not an address of this machine, naming the setting', async () => {
    const redis = await startRedis();
    // TEST-NET-1: never an address of this machine, and nothing is sent there.
    await expect(
      startTestNode({ ...clusterEnv(redis.url), PRIM_GRPC_HOST: '192.0.2.1' }),
    ).rejects.toThrow('cannot listen on grpc.host 192.0.2.1: it is not an address of this machine');
    expect(await redis.allKeys()).toEqual([]);
  });

  it('fails when the database in redis.url does not exist on the server', async () => {
    const redis = await startRedis();
    await expect(startTestNode(clusterEnv(`${redis.url}/99`))).rejects.toThrow(
      `redis.url: "${redis.url}/99" names database 99, which this Redis refuses`,
    );
  });

  it('advertises the port it bound when grpc.port is 0', async () => {
    const redis = await startRedis();
    const node = await startTestNode({
      ...clusterEnv(redis.url),
      PRIM_GRPC_HOST: '127.0.0.2',
      PRIM_GRPC_ADVERTISE: '127.0.0.2:1',
    });
    expect(node.context.cluster?.address).toMatch(/^127\.0\.0\.2:\d+$/);
    expect(node.context.cluster?.address).not.toBe('127.0.0.2:1');
  });

  it('fails when grpc.advertise does not reach the node, naming the setting', async () => {
    const redis = await startRedis();
    const [bound, port] = [await freePort(), await freePort()];
    await expect(
      startTestNode({
        ...clusterEnv(redis.url),
        PRIM_GRPC_PORT: String(bound),
        PRIM_GRPC_ADVERTISE: `127.0.0.1:${port}`,
      }),
    ).rejects.toThrow(
      new RegExp(
        `^grpc.advertise 127.0.0.1:${port} does not reach this node ` +
          `\\([^)]*ECONNREFUSED 127.0.0.1:${port}\\.?\\); set it`,
      ),
    );
    expect(await redis.allKeys()).toEqual([]);
  });

  it('fails when another node refuses its cluster.secret, and leaves that node whole', async () => {
    const redis = await startRedis();
    const first = await startTestNode({ ...clusterEnv(redis.url), PRIM_NODE_ID: 'n1' });
    await expect(
      startTestNode({
        ...clusterEnv(redis.url),
        PRIM_NODE_ID: 'n2',
        PRIM_CLUSTER_SECRET: 'another-secret-0123456789',
      }),
    ).rejects.toThrow(
      `node "n1" (${first.context.cluster!.address}) refuses this node's cluster.secret`,
    );
    const state = await call(first.url, 'GET', '/system/state', { auth: first.adminAuth });
    expect(state.data.nodes.map((node: { nodeId: string }) => node.nodeId)).toEqual(['n1']);
  });

  it('warns when another node has another ws.sessionPolicy, and starts', async () => {
    const redis = await startRedis();
    await startTestNode({ ...clusterEnv(redis.url), PRIM_NODE_ID: 'n1' });
    const lines: string[] = [];
    const destination = { write: (line: string) => lines.push(line) };
    const env = { ...clusterEnv(redis.url), PRIM_NODE_ID: 'n2', PRIM_WS_SESSION_POLICY: 'multi' };
    const node = await startNode(
      testConfig(tempDir(), env),
      createLogger({ level: 'warn', pretty: false, destination }),
    );
    try {
      expect(lines.map((line) => JSON.parse(line))).toContainEqual(
        expect.objectContaining({
          msg: 'another node has another ws.sessionPolicy; logins there and here disagree',
          peer: 'n1',
          peerPolicy: 'replace',
          policy: 'multi',
        }),
      );
      expect(node.context.state).toBe('ready');
    } finally {
      await node.stop();
    }
  });

  it('refuses a second live node with the same nodeId, and keeps the first one whole', async () => {
    const redis = await startRedis();
    const env = { ...clusterEnv(redis.url), PRIM_NODE_ID: 'n1' };
    const first = await startTestNode(env);
    await expect(startTestNode(env)).rejects.toThrow(
      `nodeId "n1" is in use by a running node (gRPC ${first.context.cluster?.address})`,
    );
    // The first node's record is still there and it still answers.
    const nodes = await first.context.cluster!.nodeStates();
    expect(nodes.map((node) => node.nodeId)).toEqual(['n1']);
    expect(await redis.allKeys()).toContainEqual({ db: 0, key: 'prim:node:n1' });
  });

  it('lets only one of two nodes started at once with the same nodeId run', async () => {
    const redis = await startRedis();
    const env = { ...clusterEnv(redis.url), PRIM_NODE_ID: 'twin' };
    const starts = await Promise.allSettled([startTestNode(env), startTestNode(env)]);
    const failed = starts.filter((start) => start.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(String((failed[0] as PromiseRejectedResult).reason)).toContain(
      'nodeId "twin" is in use by a running node',
    );
  });

  it('names the TLS setting that is missing or cannot be read', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    expect(() =>
      testConfig(dir, { ...clusterEnv(redis.url), PRIM_GRPC_TLS_CERT: 'node.pem' }),
    ).toThrow(
      'grpc.tlsKey and grpc.tlsCa are not set: grpc.tlsCert, grpc.tlsKey and grpc.tlsCa go together',
    );
    const tls = {
      PRIM_GRPC_TLS_CERT: 'missing.pem',
      PRIM_GRPC_TLS_KEY: 'missing.key',
      PRIM_GRPC_TLS_CA: 'ca.pem',
    };
    await expect(startTestNode({ ...clusterEnv(redis.url), ...tls }, dir)).rejects.toThrow(
      `grpc.tlsCert: cannot read ${path.join(dir, 'missing.pem')} (ENOENT)`,
    );
  });

  it('refuses a TLS certificate that does not name the advertised host', async () => {
    const redis = await startRedis();
    const certs = makeCerts();
    try {
      const tls = {
        PRIM_GRPC_TLS_CERT: certs.cert,
        PRIM_GRPC_TLS_KEY: certs.key,
        PRIM_GRPC_TLS_CA: certs.ca,
      };
      await expect(
        startTestNode({ ...clusterEnv(redis.url), ...tls, PRIM_GRPC_ADVERTISE: '127.0.0.2:0' }),
      ).rejects.toThrow('grpc.tlsCert does not name 127.0.0.2, the host other nodes dial');
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  it('advertises the bound port for an advertised port 0, whatever grpc.port is', async () => {
    const redis = await startRedis();
    const port = await freePort();
    const node = await startTestNode({
      ...clusterEnv(redis.url),
      PRIM_GRPC_PORT: String(port),
      PRIM_GRPC_ADVERTISE: '127.0.0.1:0',
    });
    expect(node.context.cluster?.address).toBe(`127.0.0.1:${port}`);
  });
});
