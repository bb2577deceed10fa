// Cluster mode of one node: its Redis connection, registry record and
// presence, the gRPC server for its peers and the pool of peer clients,
// started and stopped in order. The node is a cluster node iff redis.url
// is set.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Session } from '../gateway/session.js';
import type { SessionRegistry } from '../gateway/sessions.js';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { NodeDirectory, type NodeRecord } from './directory.js';
import { RedisHealth } from './health.js';
import { advertised, checkPeerLinks, claimNodeId, grpcFailure } from './joining.js';
import { Keys } from './keys.js';
import { startPeerServer, type PeerServer } from './peer-server.js';
import { PeerPool } from './peers.js';
import { Presence } from './presence.js';
import { maxMessageBytes, type NodeStateReply } from './proto.js';
import { connectRedis, isReady, type RedisClient } from './redis.js';
import { ClusterDelivery } from './router.js';
import { peerCredentials } from './tls.js';

// How often a node checks that Redis still holds its record.
const WATCH_MS = 1000;

export interface ClusterOptions {
  config: Config;
  nodeId: string;
  startedAt: number;
  registry: SessionRegistry;
  // The node's state as peers see it ('starting', 'ready', 'draining').
  state: () => string;
  // Another process took this node id over (this one hung, and was given
  // up for dead): this one must stop, without touching what is now the
  // other's record and presence.
  onReplaced: (by: string) => void;
  logger: Logger;
}

// Thrown by a refresh that finds another live process holding the record.
class Replaced extends Error {
  constructor(readonly by: string) {
    super(`another process with this nodeId runs at ${by}`);
  }
}

export class ClusterNode {
  readonly delivery: ClusterDelivery;
  // Tells this process from another with the same node id.
  private readonly instance = randomBytes(8).toString('hex');
  // What other nodes dial.
  readonly address: string;
  private http = '';
  private refresher: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopping = false;
  private replaced = false;
  // Set when this node's record was found gone: it expired while the node
  // hung or was cut off, and newer logins elsewhere took the node for dead
  // and kicked nothing here. The refresh then looks for sessions of its
  // that were replaced.
  private missedKicks = false;

  private constructor(
    private readonly options: ClusterOptions,
    private readonly redis: RedisClient,
    private readonly directory: NodeDirectory,
    private readonly presence: Presence,
    private readonly peers: PeerPool,
    private readonly server: PeerServer,
    private readonly health: RedisHealth,
    private readonly log: Logger,
  ) {
    const { config, registry } = options;
    this.address = advertised(config, server.port);
    this.delivery = new ClusterDelivery(registry, presence, directory, peers, health, log);
  }

  static async start(options: ClusterOptions): Promise<ClusterNode> {
    const { config, nodeId, registry } = options;
    const log = options.logger.child({ module: 'cluster' });
    // Certificates first: a bad file needs no Redis connection to report.
    const host = advertised(config, 0);
    const tls = peerCredentials(config, host.slice(0, host.lastIndexOf(':')));
    const redis = await connectRedis(config);
    const keys = new Keys(config.redis.prefix);
    const ttl = config.cluster.ttl;
    const presence = new Presence(redis, keys, nodeId, ttl);
    const directory = new NodeDirectory(redis, keys, ttl);
    const maxBytes = maxMessageBytes(config.limits.maxFrameBytes);
    const peers = new PeerPool(
      config.cluster.secret!,
      config.grpc.callTimeout,
      maxBytes,
      tls.client,
    );
    let server: PeerServer | undefined;
    try {
      const bind = config.grpc.host.includes(':') ? `[${config.grpc.host}]` : config.grpc.host;
      let cluster: ClusterNode | undefined;
      server = await startPeerServer(
        {
          registry,
          credentials: tls.server,
          secret: config.cluster.secret!,
          state: () => cluster!.stateReply(),
          maxMessageBytes: maxBytes,
          logger: options.logger,
        },
        bind,
        config.grpc.port,
      );
      // Redis Cluster keeps its client 'ready' while a shard is down and
      // every command on it fails: what the node's own calls meet decides.
      // The probe fails while Redis does; being replaced ends it too.
      const probe = () =>
        cluster!.refresh().catch((err: unknown) => {
          if (!(err instanceof Replaced)) throw err;
          cluster!.onRefreshError(err);
        });
      const health = new RedisHealth(
        probe,
        {
          down: () => cluster!.delivery.redisLost(),
          up: () => {
            cluster!.delivery.redisBack();
            probe().catch(cluster!.onRefreshError);
          },
        },
        log,
      );
      cluster = new ClusterNode(options, redis, directory, presence, peers, server, health, log);
      await checkPeerLinks(peers, directory, cluster.stateReply(), log);
      await claimNodeId(peers, directory, cluster.record());
      // Sessions of an earlier process with this node id are gone.
      await presence.withdrawAll();
      registry.observe(cluster.observer());
      redis.on('close', () => health.failed(new Error('connection closed')));
      redis.on('ready', () => health.probeSoon());
      return cluster;
    } catch (err) {
      await server?.stop();
      peers.close();
      redis.disconnect();
      throw grpcFailure(err, config);
    }
  }

  // Registers the node once it serves `http` (host:port), and keeps the
  // record and the presence of its sessions alive from then on.
  async announce(http: string): Promise<void> {
    this.http = http;
    await this.refresh().catch(this.onRefreshError);
    const every = Math.max(100, Math.floor(this.options.config.cluster.ttl / 3));
    let tick = 0;
    // Every second a look at the node's own record, every third of the TTL
    // a full refresh. A record gone before its time means Redis lost its
    // data (FLUSHALL, a failover to an empty replica): online users would
    // miss pushes until the next refresh, so it comes at once.
    const interval = Math.min(WATCH_MS, every);
    this.refresher = setInterval(() => {
      if (!this.health.up) return;
      tick += interval;
      const due = tick >= every;
      if (due) tick = 0;
      const work = due ? this.refresh() : this.refreshIfLost();
      work.catch(this.onRefreshError);
    }, interval);
    this.refresher.unref();
    this.log.info({ address: this.address, ttlMs: this.options.config.cluster.ttl }, 'registered');
  }

  // Why the node cannot serve the cluster now, or undefined.
  readiness(): string | undefined {
    if (this.replaced) return 'replaced by another process with the same nodeId';
    return this.health.up && isReady(this.redis) ? undefined : 'Redis unreachable';
  }

  // Every live node's state, this one's from memory and always there (its
  // record may be missing while Redis is away or just back). While Redis is
  // away, the other nodes are those known before that still answer.
  async nodeStates(): Promise<NodeStateReply[]> {
    const nodes = this.health.up
      ? await this.directory.list().catch(() => this.directory.lastKnown())
      : this.directory.lastKnown();
    const others = await Promise.all(
      nodes
        .filter((node) => node.nodeId !== this.options.nodeId)
        // Another node may answer at a dead one's address: not listed twice.
        .map((node) =>
          this.peers
            .state(node.address)
            .then((state) => (state.nodeId === node.nodeId ? state : undefined))
            .catch(() => undefined),
        ),
    );
    return [this.stateReply(), ...others]
      .filter((state): state is NodeStateReply => state !== undefined)
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  stateReply(): NodeStateReply {
    const { registry, nodeId, startedAt } = this.options;
    return {
      nodeId,
      address: this.address,
      version: VERSION,
      state: this.options.state(),
      startedAt,
      connections: registry.size,
      tenantsOnline: registry.tenantNames().length,
      instance: this.instance,
      http: this.http,
      sessionPolicy: this.options.config.ws.sessionPolicy,
    };
  }

  // After the node's sessions are closed: takes its record and presence
  // back, then stops serving peers.
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.refresher);
    this.health.stop();
    await this.refreshing?.catch(() => undefined);
    try {
      // A replaced node's record and published set are the other's now; its
      // own sessions took their presence back as they closed. Without Redis
      // they expire with the TTL: not waited for at each command's timeout.
      // A record of another instance means this one was replaced, and has
      // not found out yet (stopped before its next look).
      const current = this.health.up && (await this.directory.get(this.options.nodeId));
      if (current) this.replaced ||= current.instance !== this.instance;
      if (!this.replaced && this.health.up) {
        await Promise.all([
          this.presence.withdrawAll(),
          this.directory.remove(this.options.nodeId),
        ]);
      }
    } catch (err) {
      this.log.warn({ err }, 'could not remove the registry record; it expires with its TTL');
    }
    await this.server.stop();
    this.peers.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private record(): NodeRecord {
    const { nodeId, startedAt, registry } = this.options;
    return {
      nodeId,
      address: this.address,
      http: this.http,
      version: VERSION,
      startedAt,
      connections: registry.size,
      instance: this.instance,
    };
  }

  private observer() {
    return {
      // While Redis is down the session is not waited for: the refresh that
      // finds Redis back publishes it with the others.
      added: async (session: Session) => {
        if (!this.health.up) return;
        await this.presence.publish(session).catch((err: unknown) => this.health.failed(err));
      },
      removed: (session: Session) => {
        this.presence.withdraw(session).catch((err: unknown) => {
          this.log.debug({ err, connId: session.connId }, 'presence not withdrawn');
        });
      },
    };
  }

  private async refreshIfLost(): Promise<void> {
    if (this.refreshing) return;
    const { nodeId } = this.options;
    const [current, listed] = await Promise.all([
      this.directory.get(nodeId),
      this.directory.listed(nodeId),
    ]);
    if (current?.instance === this.instance && listed) return;
    if (!current) {
      this.log.warn('the registry record is gone from Redis; registering again');
    }
    await this.refresh();
  }

  // A record of this node id written by another process that answers as
  // its writer: this process was given up for dead (it hung longer than a
  // peer call's deadline while a new one started) and is replaced.
  private async checkNotReplaced(): Promise<void> {
    const { nodeId } = this.options;
    const current = await this.directory.get(nodeId);
    // Expired (given up for dead), or lost with Redis's data.
    if (!current) this.missedKicks = true;
    if (!current || current.instance === this.instance) return;
    const answer = await this.peers.state(current.address).catch(() => undefined);
    if (answer?.nodeId === nodeId && answer.instance === current.instance) {
      throw new Replaced(current.address);
    }
  }

  // Redis failing marks it down; being replaced stops this node.
  private readonly onRefreshError = (err: unknown): void => {
    if (!(err instanceof Replaced)) {
      this.health.failed(err);
      return;
    }
    if (this.replaced) return;
    this.replaced = true;
    this.stopping = true;
    clearInterval(this.refresher);
    this.health.stop();
    this.log.error({ by: err.by }, 'another process took this nodeId over; stopping this one');
    this.options.onReplaced(err.by);
  };

  // The record and every session's presence written again (a restarted
  // Redis may have lost them all), one refresh at a time.
  private refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    if (this.stopping) return;
    await this.checkNotReplaced();
    await this.directory.register(this.record());
    await this.presence.publishAll(this.options.registry.all());
    const live = await this.directory.list();
    this.peers.retain(new Set(live.map((node) => node.address)));
    if (this.missedKicks) {
      this.missedKicks = false;
      if (this.options.config.ws.sessionPolicy === 'replace') {
        const closed = await this.delivery.closeReplaced();
        if (closed > 0) this.log.info({ closed }, 'sessions replaced while away closed');
      }
    }
  }
}
