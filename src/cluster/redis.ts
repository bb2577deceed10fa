// The Redis connection of a cluster node: one server (redis:// or
// rediss://), a Sentinel-watched primary, or a Redis Cluster, from config.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import { PrimError } from '../errors.js';
import { redactUrl } from '../log.js';

export type RedisClient = Redis | Cluster;

// How long one command may wait; a hung Redis must not hold a message's ack.
const COMMAND_TIMEOUT_MS = 1000;

// Commands fail at once while Redis is away instead of queueing (with Redis
// Cluster, ioredis queues on a shard's connection, bounded by the command
// timeout): the node then routes without presence (health.ts) and
// re-publishes its state when Redis is back. Reconnects never stop.
const common: RedisOptions = {
  enableOfflineQueue: false,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  // A primary demoted under the node (a failover behind one endpoint) keeps
  // its connection open and refuses every write: reconnecting finds the
  // new primary.
  reconnectOnError: (err) => /^(READONLY|LOADING)/.test(err.message),
  lazyConnect: true,
};

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return {
    host: address.slice(0, at).replace(/^\[|\]$/g, ''),
    port: Number(address.slice(at + 1)),
  };
}

// Credentials, TLS and database from the URL apply in every mode.
function fromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) {
    throw new PrimError(
      'BAD_PARAMETER',
      `redis.url: "${redactUrl(url)}" has no database number after the /`,
    );
  }
  return {
    username: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
    tls: parsed.protocol === 'rediss:' ? { servername: parsed.hostname } : undefined,
    db,
  };
}

function createRedis(config: Config): RedisClient {
  const { url, mode, nodes, sentinelName } = config.redis;
  const options = { ...common, ...fromUrl(url!) };
  if (mode === 'cluster') {
    const { db: _db, ...redisOptions } = options;
    return new Cluster(nodes.map(hostPort), {
      redisOptions,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
      clusterRetryStrategy: common.retryStrategy,
      // A primary back after a crash is answered MOVED to, and ioredis does
      // not retry auto-pipelined commands on MOVED: without a periodic
      // refresh of the slot map, the node never used that primary again.
      slotsRefreshInterval: 1000,
    });
  }
  if (mode === 'sentinel') {
    return new Redis({
      ...options,
      sentinels: nodes.map(hostPort),
      name: sentinelName,
      sentinelPassword: options.password,
      enableTLSForSentinelMode: Boolean(options.tls),
    });
  }
  // ioredis reads the URL itself (host, port, credentials, TLS, database).
  return new Redis(url!, common);
}

// Connects, or fails with an error that says where it tried.
export async function connectRedis(config: Config, timeoutMs = 5000): Promise<RedisClient> {
  const redis = createRedis(config);
  // Errors are reported by status and readiness; without a listener ioredis
  // would print each reconnect failure itself. The last one says why a
  // first connection failed ("Connection is closed" does not).
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const { mode, nodes } = config.redis;
    const where =
      mode === 'standalone'
        ? `at ${redactUrl(config.redis.url!)} (redis.url)`
        : `through redis.nodes ${nodes.join(',')} (redis.mode ${mode})`;
    throw new PrimError(
      'OPERATION_FAILED',
      `cannot reach Redis ${where}: ${(lastError ?? (err as Error)).message}`,
    );
  } finally {
    clearTimeout(timer);
  }
  await checkDatabase(redis, config).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  return redis;
}

// ioredis stays on database 0 when the one in redis.url does not exist,
// and the node would write where nobody looks for it.
async function checkDatabase(redis: RedisClient, config: Config): Promise<void> {
  const { db } = fromUrl(config.redis.url!);
  if (!db || config.redis.mode === 'cluster') return;
  try {
    await (redis as Redis).select(db);
  } catch (err) {
    throw new PrimError(
      'BAD_PARAMETER',
      `redis.url: "${redactUrl(config.redis.url!)}" names database ${db}, ` +
        `which this Redis refuses: ${(err as Error).message}`,
    );
  }
}

export function isReady(redis: RedisClient): boolean {
  return redis.status === 'ready';
}
