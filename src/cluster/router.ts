// Delivery across the cluster: the node's own sessions directly, the other
// nodes' over gRPC, and only the nodes that presence says hold sessions of
// the user. A node that cannot be reached in time counts as "receiver
// offline" for this message, which is already in the inbox. While Redis is
// away, every node known before is asked: each reaches only its own
// sessions, so messages, kicks and broadcasts still cross nodes.
import type { SessionRegistry } from '../gateway/sessions.js';
import { throttledWarn, type Logger } from '../log.js';
import type { Delivery, LazyFrame } from '../messages/delivery.js';
import type { NodeDirectory, NodeRecord } from './directory.js';
import type { RedisHealth } from './health.js';
import type { PeerPool } from './peers.js';
import type { PresentSession, Presence } from './presence.js';

const sum = (counts: number[]) => counts.reduce((total, count) => total + count, 0);

export class ClusterDelivery implements Delivery {
  // A node that keeps failing is warned about once every few seconds.
  private readonly warn: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly local: SessionRegistry,
    private readonly presence: Presence,
    private readonly directory: NodeDirectory,
    private readonly peers: PeerPool,
    private readonly health: RedisHealth,
    log: Logger,
  ) {
    this.warn = throttledWarn(log);
  }

  private get nodeId(): string {
    return this.local.nodeId;
  }

  async push(tenant: string, userId: string, frame: LazyFrame, exceptConnId?: string) {
    const [local, nodes] = await Promise.all([
      this.local.push(tenant, userId, frame, exceptConnId),
      this.nodesHolding(tenant, userId, (session) => session.connId !== exceptConnId),
    ]);
    const remote = nodes.map((node) =>
      this.peers
        .deliver(node, { tenant, userId, frame: frame(), exceptConnId: exceptConnId ?? '' })
        .catch((err: unknown) => this.unreachable(node, 'Deliver', err, 0)),
    );
    return local + sum(await Promise.all(remote));
  }

  async broadcast(tenant: string, frame: Buffer) {
    const [local, nodes] = await Promise.all([
      this.local.broadcast(tenant, frame),
      this.otherNodes(),
    ]);
    const remote = nodes.map((node) =>
      this.peers
        .broadcast(node, { tenant, frame })
        .catch((err: unknown) => this.unreachable(node, 'Broadcast', err, 0)),
    );
    return local + sum(await Promise.all(remote));
  }

  async kick(
    tenant: string,
    userId: string | undefined,
    platform: string | undefined,
    code: number,
    reason: string,
    exceptConnId?: string,
  ) {
    const local = await this.local.kick(tenant, userId, platform, code, reason, exceptConnId);
    const nodes =
      userId === undefined
        ? await this.otherNodes()
        : await this.nodesHolding(
            tenant,
            userId,
            (session) =>
              session.connId !== exceptConnId &&
              (platform === undefined || session.platform === platform),
          );
    const request = {
      tenant,
      userId: userId ?? '',
      platform: platform ?? '',
      code,
      reason,
      exceptConnId: exceptConnId ?? '',
    };
    const remote = nodes.map((node) =>
      this.peers
        .kick(node, request)
        .catch((err: unknown) => this.unreachable(node, 'Kick', err, 0)),
    );
    return local + sum(await Promise.all(remote));
  }

  async usersByNode(tenant: string) {
    const byNode = await this.local.usersByNode(tenant);
    const nodes = await this.otherNodes();
    const answers = await Promise.all(
      nodes.map((node) =>
        this.peers
          .localUsers(node, tenant)
          .catch((err: unknown) => this.unreachable(node, 'LocalUsers', err, undefined)),
      ),
    );
    nodes.forEach((node, at) => {
      const users = answers[at];
      if (users && users.length > 0) byNode.set(node.nodeId, users);
    });
    return byNode;
  }

  // Live nodes other than this one, looked up afresh: broadcasts and the
  // online-user routes are rare, and must reach a node that just joined.
  private async otherNodes(): Promise<NodeRecord[]> {
    if (!this.health.up) return this.withoutRedis();
    try {
      return this.others(await this.directory.list());
    } catch (err) {
      this.health.failed(err);
      return this.withoutRedis();
    }
  }

  private others(nodes: NodeRecord[]): NodeRecord[] {
    return nodes.filter((node) => node.nodeId !== this.nodeId);
  }

  private withoutRedis(): NodeRecord[] {
    return this.others(this.directory.lastKnown());
  }

  // The other live nodes that hold sessions of the user passing `wanted`.
  private async nodesHolding(
    tenant: string,
    userId: string,
    wanted: (session: PresentSession) => boolean,
  ): Promise<NodeRecord[]> {
    if (!this.health.up) return this.withoutRedis();
    let sessions: PresentSession[];
    try {
      sessions = await this.presence.sessionsOf(tenant, userId);
    } catch (err) {
      this.health.failed(err);
      return this.withoutRedis();
    }
    const nodeIds = new Set(
      sessions.filter((s) => s.nodeId !== this.nodeId && wanted(s)).map((s) => s.nodeId),
    );
    const nodes = await Promise.all(
      [...nodeIds].map((nodeId) =>
        this.directory.find(nodeId).catch((err: unknown) => {
          this.health.failed(err);
          return this.directory.lastKnown().find((node) => node.nodeId === nodeId);
        }),
      ),
    );
    // A node without a live record is dead: its sessions are gone.
    return nodes.filter((node): node is NodeRecord => node !== undefined);
  }

  private unreachable<T>(node: NodeRecord, method: string, err: unknown, fallback: T): T {
    const { code, details } = err as { code?: number; details?: string };
    this.warn(
      node.nodeId,
      { peer: node.nodeId, address: node.address, method, code, details: details ?? String(err) },
      'peer call failed; its sessions count as offline for this one',
    );
    return fallback;
  }
}
