// Delivery across the cluster: the node's own sessions directly, the other
// nodes' over gRPC, and only the nodes that presence says hold sessions of
// the user. A node that cannot be reached in time counts as "receiver
// offline" for this message, which is already in the inbox. While Redis is
// away, and for a few seconds after it is back (the nodes publish their
// sessions again), every node known before is asked: each reaches only its
// own sessions, so messages, kicks and broadcasts still cross nodes.
import { status } from '@grpc/grpc-js';
import type { SessionRegistry } from '../gateway/sessions.js';
import { throttledWarn, type Logger } from '../log.js';
import { CloseCode } from '../errors.js';
import {
  loggedInBefore,
  type Delivery,
  type LazyFrame,
  type Replacing,
} from '../messages/delivery.js';
import type { NodeDirectory, NodeRecord } from './directory.js';
import type { RedisHealth } from './health.js';
import type { PeerPool } from './peers.js';
import type { PresentSession, Presence } from './presence.js';
import type { KickRequest } from './proto.js';

// How long after Redis is back every node is still asked: the other nodes
// find it back and publish their sessions again within a second or two,
// into what may be an empty Redis.
const REPUBLISH_MS = 5000;

// Sessions whose presence is looked up at once by closeReplaced.
const CHECK_BATCH = 100;

const sum = (counts: number[]) => counts.reduce((total, count) => total + count, 0);

export class ClusterDelivery implements Delivery {
  // A node that keeps failing is warned about once every few seconds.
  private readonly warn: ReturnType<typeof throttledWarn>;
  // The nodes known when Redis went away, and until when after its return
  // every node is asked rather than presence.
  private beforeOutage: NodeRecord[] = [];
  private everyNodeUntil = 0;

  constructor(
    private readonly local: SessionRegistry,
    private readonly presence: Presence,
    private readonly directory: NodeDirectory,
    private readonly peers: PeerPool,
    private readonly health: RedisHealth,
    private readonly log: Logger,
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
  ) {
    const local = await this.local.kick(tenant, userId, platform, code, reason);
    const nodes =
      userId === undefined
        ? await this.otherNodes()
        : await this.nodesHolding(
            tenant,
            userId,
            (session) => platform === undefined || session.platform === platform,
          );
    const request = {
      tenant,
      userId: userId ?? '',
      platform: platform ?? '',
      code,
      reason,
      exceptConnId: '',
      loggedInAt: 0,
    };
    return local + (await this.kickOn(nodes, request));
  }

  async replaceOlder(session: Replacing) {
    const { tenant, userId, platform, connId, loginAt } = session;
    const local = this.local.closeOlder(session);
    const rival = (other: PresentSession) => other.platform === platform && other.connId !== connId;
    const held = await this.sessionsByNode(tenant, userId);
    // Without Redis every node known before is asked, and only this node's
    // own sessions tell whether a newer one exists.
    const older = held
      ? held.filter(({ sessions }) => sessions.some((s) => rival(s) && loggedInBefore(s, session)))
      : this.withoutRedis().map((node) => ({ node }));
    const newer = held?.some(({ sessions }) =>
      sessions.some((s) => rival(s) && !loggedInBefore(s, session)),
    );
    const request = {
      tenant,
      userId,
      platform,
      code: CloseCode.REPLACED,
      reason: 'replaced by a newer session',
      exceptConnId: connId,
      loggedInAt: loginAt,
    };
    await this.kickOn(
      older.map(({ node }) => node),
      request,
      true,
    );
    return local.newest && !newer;
  }

  // The replace policy for this node's sessions that a newer login on
  // another node could not close, since this node did not answer then.
  async closeReplaced(): Promise<number> {
    let closed = 0;
    const sessions = this.local.all();
    for (let at = 0; at < sessions.length; at += CHECK_BATCH) {
      const batch = sessions.slice(at, at + CHECK_BATCH);
      await Promise.all(
        batch.map(async (session) => {
          const held = await this.sessionsByNode(session.tenant, session.userId);
          const newer = held?.some(({ sessions: others }) =>
            others.some(
              (other) => other.platform === session.platform && loggedInBefore(session, other),
            ),
          );
          if (!newer || !session.open) return;
          session.close(CloseCode.REPLACED, 'replaced by a newer session');
          this.local.remove(session);
          closed += 1;
        }),
      );
    }
    return closed;
  }

  private async kickOn(nodes: NodeRecord[], request: Omit<KickRequest, 'nodeId'>, orOwe = false) {
    const remote = nodes.map((node) =>
      (orOwe ? this.peers.kickOrOwe(node, request) : this.peers.kick(node, request)).catch(
        (err: unknown) => this.unreachable(node, 'Kick', err, 0),
      ),
    );
    return sum(await Promise.all(remote));
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
      const live = await this.directory.list();
      return Date.now() < this.everyNodeUntil ? this.withoutRedis() : this.others(live);
    } catch (err) {
      this.health.failed(err);
      return this.withoutRedis();
    }
  }

  private others(nodes: NodeRecord[]): NodeRecord[] {
    return nodes.filter((node) => node.nodeId !== this.nodeId);
  }

  redisLost(): void {
    // Lost again before the others published: those known then still count.
    const stillBack = Date.now() < this.everyNodeUntil;
    this.beforeOutage = stillBack ? this.withoutRedis() : this.directory.lastKnown();
  }

  redisBack(): void {
    this.everyNodeUntil = Date.now() + REPUBLISH_MS;
  }

  private withoutRedis(): NodeRecord[] {
    const nodes = new Map(this.beforeOutage.map((node) => [node.nodeId, node]));
    for (const node of this.directory.lastKnown()) nodes.set(node.nodeId, node);
    return this.others([...nodes.values()]);
  }

  // The other live nodes that hold sessions of the user passing `wanted`.
  private async nodesHolding(
    tenant: string,
    userId: string,
    wanted: (session: PresentSession) => boolean,
  ): Promise<NodeRecord[]> {
    const held = await this.sessionsByNode(tenant, userId);
    if (!held) return this.withoutRedis();
    return held.filter(({ sessions }) => sessions.some(wanted)).map(({ node }) => node);
  }

  // The user's sessions on each other live node; undefined while Redis,
  // and so presence, is away.
  private async sessionsByNode(
    tenant: string,
    userId: string,
  ): Promise<Array<{ node: NodeRecord; sessions: PresentSession[] }> | undefined> {
    if (!this.health.up || Date.now() < this.everyNodeUntil) return undefined;
    let sessions: PresentSession[];
    try {
      sessions = await this.presence.sessionsOf(tenant, userId);
    } catch (err) {
      this.health.failed(err);
      return undefined;
    }
    const byNode = new Map<string, PresentSession[]>();
    for (const session of sessions) {
      if (session.nodeId === this.nodeId) continue;
      byNode.set(session.nodeId, [...(byNode.get(session.nodeId) ?? []), session]);
    }
    const held = await Promise.all(
      [...byNode].map(async ([nodeId, onNode]) => {
        const node = await this.directory.find(nodeId).catch((err: unknown) => {
          this.health.failed(err);
          return this.directory.lastKnown().find((known) => known.nodeId === nodeId);
        });
        return node && { node, sessions: onNode };
      }),
    );
    // A node without a live record is dead: its sessions are gone.
    return held.filter((entry) => entry !== undefined);
  }

  private unreachable<T>(node: NodeRecord, method: string, err: unknown, fallback: T): T {
    const { code, details } = err as { code?: number; details?: string };
    // Another node answers at a dead one's address (a restart under a new
    // id): nothing is wrong, and the dead record expires with its TTL.
    if (code === status.NOT_FOUND) {
      this.log.debug({ peer: node.nodeId, address: node.address, method }, 'peer gone');
      return fallback;
    }
    this.warn(
      node.nodeId,
      { peer: node.nodeId, address: node.address, method, code, details: details ?? String(err) },
      'peer call failed; its sessions count as offline for this one',
    );
    return fallback;
  }
}
