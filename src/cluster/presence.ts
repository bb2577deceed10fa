// Presence: where each user's sessions are. A user's key is a hash of
// connId → {nodeId, platform, expiresAt}; the owning node refreshes its
// entries every few seconds, so those of a node that died without a clean
// stop expire with the TTL (the key itself has one too).
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface SessionRef {
  tenant: string;
  userId: string;
  platform: string;
  connId: string;
  loginAt: number;
}

export interface PresentSession {
  connId: string;
  nodeId: string;
  platform: string;
  loginAt: number;
}

interface PresenceEntry {
  nodeId: string;
  platform: string;
  loginAt: number;
  expiresAt: number;
}

export class Presence {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly nodeId: string,
    private readonly ttlMs: number,
  ) {}

  async publish(session: SessionRef): Promise<void> {
    await this.publishAll([session]);
  }

  // Also the refresh: writing an entry again moves its expiry on. One HSET
  // and one PEXPIRE per user, one SADD for the node, however many sessions.
  async publishAll(sessions: SessionRef[]): Promise<void> {
    if (sessions.length === 0) return;
    const expiresAt = Date.now() + this.ttlMs;
    const byKey = new Map<string, Record<string, string>>();
    for (const session of sessions) {
      const key = this.keys.presence(session.tenant, session.userId);
      const { platform, loginAt } = session;
      const entry: PresenceEntry = { nodeId: this.nodeId, platform, loginAt, expiresAt };
      const fields = byKey.get(key) ?? {};
      fields[session.connId] = JSON.stringify(entry);
      byKey.set(key, fields);
    }
    const published = this.keys.published(this.nodeId);
    await Promise.all([
      ...[...byKey].flatMap(([key, fields]) => [
        this.redis.hset(key, fields),
        this.redis.pexpire(key, this.ttlMs),
      ]),
      this.redis.sadd(published, ...sessions.map(memberOf)),
      this.redis.pexpire(published, this.ttlMs),
    ]);
  }

  async withdraw(session: SessionRef): Promise<void> {
    await Promise.all([
      this.redis.hdel(this.keys.presence(session.tenant, session.userId), session.connId),
      this.redis.srem(this.keys.published(this.nodeId), memberOf(session)),
    ]);
  }

  // Removes everything this node id has published: at a clean stop, and at
  // start for what an earlier incarnation left behind.
  async withdrawAll(): Promise<void> {
    const published = this.keys.published(this.nodeId);
    const members = await this.redis.smembers(published);
    await Promise.all(
      members.map((member) => {
        const [tenant, userId, connId] = JSON.parse(member) as [string, string, string];
        return this.redis.hdel(this.keys.presence(tenant, userId), connId);
      }),
    );
    await this.redis.del(published);
  }

  // The user's live sessions on every node.
  async sessionsOf(tenant: string, userId: string): Promise<PresentSession[]> {
    const key = this.keys.presence(tenant, userId);
    const fields = await this.redis.hgetall(key);
    const now = Date.now();
    const sessions: PresentSession[] = [];
    const expired: string[] = [];
    for (const [connId, raw] of Object.entries(fields)) {
      const entry = parseEntry(raw);
      // Written by another node's clock: given a TTL's grace for clocks
      // that disagree. The key's own TTL (Redis's clock) ends a dead node's
      // entries anyway, and a dead node is not routed to (directory.ts).
      if (!entry || entry.expiresAt + this.ttlMs <= now) expired.push(connId);
      else
        sessions.push({
          connId,
          nodeId: entry.nodeId,
          platform: entry.platform,
          loginAt: entry.loginAt,
        });
    }
    // Left by a node that died; nobody else would remove them before the
    // whole key expires.
    if (expired.length > 0) this.redis.hdel(key, ...expired).catch(() => undefined);
    return sessions;
  }
}

function memberOf(session: SessionRef): string {
  return JSON.stringify([session.tenant, session.userId, session.connId]);
}

function parseEntry(raw: string): PresenceEntry | undefined {
  try {
    const entry = JSON.parse(raw) as PresenceEntry;
    return typeof entry.nodeId === 'string' &&
      typeof entry.expiresAt === 'number' &&
      typeof entry.loginAt === 'number'
      ? entry
      : undefined;
  } catch {
    return undefined;
  }
}
