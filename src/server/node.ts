// One node: the store, the gateway and the HTTP server, started and
// stopped in order. `prim serve` and the tests both start nodes here.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { ClusterNode } from '../cluster/cluster.js';
import { resolveAdminKey, type AdminKey } from '../auth/admin-key.js';
import { Tenants } from '../auth/tenants.js';
import type { Config } from '../config/schema.js';
import { Gateway } from '../gateway/gateway.js';
import { SessionRegistry } from '../gateway/sessions.js';
import type { Logger } from '../log.js';
import { Messages } from '../messages/messages.js';
import { BatchWriter } from '../messages/writer.js';
import { openStore } from '../store/open.js';
import { lockStore, type StoreLock } from './store-lock.js';
import { buildApp } from './app.js';
import type { NodeContext } from './context.js';

export interface RunningNode {
  context: NodeContext;
  app: FastifyInstance;
  adminKey: AdminKey;
  // http://host:port as bound (the real port when http.port is 0).
  url: string;
  port: number;
  stop(): Promise<void>;
  // Resolves once the node has stopped: with why, when it stopped itself.
  ended: Promise<string | undefined>;
}

// How long REST requests still get to answer when shutdownTimeout has run
// out by the time the HTTP server closes: a message stored in the last
// moment is still acknowledged, so that its client does not send it again.
const ANSWER_GRACE_MS = 1000;

// Whether `promise` settles within `ms`; it goes on either way.
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), false);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Closes the HTTP server. Keep-alive connections end with the answer they
// wait for (app.ts sends `Connection: close` while the node drains); what
// is still open after `timeoutMs` is cut, answered or not.
async function closeHttp(app: FastifyInstance, timeoutMs: number, log: Logger): Promise<void> {
  const closed = app.close();
  if (await settlesWithin(closed, timeoutMs)) return;
  log.warn({ timeoutMs }, 'connections still open at shutdownTimeout; closing them');
  app.server.closeAllConnections();
  // Upgraded sockets are no longer the HTTP server's to close.
  for (const socket of app.websocketServer.clients) socket.terminate();
  await closed;
}

// A key nobody was shown would lock the operator out: after a failed start
// the next one generates and shows a new one.
function forgetGenerated(adminKey: AdminKey): void {
  if (adminKey.generated && adminKey.file) rmSync(adminKey.file, { force: true });
}

export async function startNode(config: Config, logger: Logger): Promise<RunningNode> {
  const started = Date.now();
  const nodeId = config.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
  const log = logger.child({ nodeId });
  const storeUrl = config.store.url!;
  const store = await openStore(storeUrl);
  let lock: StoreLock | undefined;
  try {
    if (!config.redis.url && store.kind === 'sqlite' && storeUrl !== 'sqlite::memory:') {
      lock = lockStore(storeUrl.slice('sqlite:'.length));
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  const adminKey = resolveAdminKey(config.adminKey, config.dataDir);

  const tenants = new Tenants(store);
  const registry = new SessionRegistry(nodeId);
  // Assigned below; peers may ask for the node's state before that, and
  // the cluster may ask the node to stop itself.
  let context: NodeContext | undefined;
  let stopItself: (reason: string) => void = () => undefined;
  let cluster: ClusterNode | undefined;
  if (config.redis.url) {
    try {
      cluster = await ClusterNode.start({
        config,
        nodeId,
        startedAt: started,
        registry,
        state: () => context?.state ?? 'starting',
        onReplaced: (by) => stopItself(`another process took nodeId "${nodeId}" over (${by})`),
        logger: log,
      });
    } catch (err) {
      await store.close();
      forgetGenerated(adminKey);
      throw err;
    }
  }
  const delivery = cluster?.delivery ?? registry;
  const writer = new BatchWriter(store);
  const messages = new Messages(store, writer, delivery);
  const gateway = new Gateway({
    config,
    store,
    tenants,
    messages,
    registry,
    delivery,
    logger: log,
  });
  context = {
    nodeId,
    startedAt: started,
    config,
    adminKey: adminKey.key,
    store,
    tenants,
    messages,
    gateway,
    registry,
    delivery,
    cluster,
    state: 'starting',
  };

  let app: FastifyInstance | undefined;
  try {
    app = await buildApp(context, log);
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await app?.close();
    // Stops the gateway's sweeper; no session can have opened yet.
    await gateway.drain(0);
    await cluster?.stop();
    await store.close();
    lock?.release();
    forgetGenerated(adminKey);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;

  let stopping: Promise<void> | undefined;
  let endedWith: (reason: string | undefined) => void = () => undefined;
  const ended = new Promise<string | undefined>((resolve) => (endedWith = resolve));
  const stop = (reason?: string) =>
    (stopping ??= (async () => {
      const begun = Date.now();
      const left = () => begun + config.shutdownTimeout - Date.now();
      context.state = 'draining';
      await gateway.drain(config.shutdownTimeout);

      if (!(await settlesWithin(writer.flushed(), left()))) {
        log.warn(
          { timeoutMs: config.shutdownTimeout },
          'messages still being stored at shutdownTimeout',
        );
      }
      // REST requests in flight still reach other nodes; then the record
      // and presence go.
      await closeHttp(app, Math.max(left(), ANSWER_GRACE_MS), log);
      await cluster?.stop();
      await store.close();
      lock?.release();
      log.info({ durationMs: Date.now() - begun, reason }, 'node stopped');
      endedWith(reason);
    })());
  stopItself = (reason) => {
    log.error({ reason }, 'the node stops itself');
    stop(reason).catch((err: unknown) => {
      log.error({ err }, 'stopping failed');
      endedWith(reason);
    });
  };

  const running: RunningNode = {
    context,
    app,
    adminKey,
    url: `http://${host}:${port}`,
    port,
    stop: () => stop(),
    ended,
  };

  await cluster?.announce(`${host}:${port}`);
  // Replaced while announcing: the node is already draining.
  if (stopping) return running;
  gateway.open();
  context.state = 'ready';
  log.info(
    {
      http: `${config.http.host}:${port}`,
      store: store.kind,
      grpc: cluster?.address,
      durationMs: Date.now() - started,
    },
    'node ready',
  );

  return running;
}
