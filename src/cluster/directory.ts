// The node registry: each live node's record in Redis, written with the
// cluster TTL and refreshed while the node lives. A node whose record has
// expired is dead, and nothing is routed to it.
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface NodeRecord {
  nodeId: string;
  // The gRPC address other nodes dial.
  address: string;
  // Where the node serves REST and /acc, as host:port.
  http: string;
  version: string;
  startedAt: number;
  connections: number;
  // Random per process, as in the node's state.
  instance: string;
}

// How long a looked-up list of nodes is reused to find a node's address,
// and how long a node that was not found is not looked for again.
const CACHE_MS = 1000;

export class NodeDirectory {
  // The last successful look-up, also kept while Redis is away.
  private cached: { at: number; nodes: NodeRecord[] } | undefined;
  // nodeId → when a fresh look-up did not find it.
  private readonly missed = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  async register(record: NodeRecord): Promise<void> {
    await Promise.all([
      this.redis.set(this.keys.node(record.nodeId), JSON.stringify(record), 'PX', this.ttlMs),
      this.redis.sadd(this.keys.nodes(), record.nodeId),
    ]);
  }

  // Writes the record unless one of this node id is there; then resolves
  // to that one and writes nothing.
  async claim(record: NodeRecord): Promise<NodeRecord | undefined> {
    const key = this.keys.node(record.nodeId);
    const written = await this.redis.set(key, JSON.stringify(record), 'PX', this.ttlMs, 'NX');
    if (written === 'OK') {
      await this.redis.sadd(this.keys.nodes(), record.nodeId);
      return undefined;
    }
    // Expired since the SET, or not prim's: nothing to take over from.
    return parseRecord(await this.redis.get(key)) ?? { ...record, instance: '' };
  }

  async get(nodeId: string): Promise<NodeRecord | undefined> {
    return parseRecord(await this.redis.get(this.keys.node(nodeId)));
  }

  // Whether the node's id is among those list() reads.
  async listed(nodeId: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.nodes(), nodeId)) === 1;
  }

  async remove(nodeId: string): Promise<void> {
    await Promise.all([
      this.redis.del(this.keys.node(nodeId)),
      this.redis.srem(this.keys.nodes(), nodeId),
    ]);
    this.cached = undefined;
  }

  // Every node whose record is alive, sorted by nodeId.
  // Whether a node lives is its record's TTL, on Redis's clock: the nodes'
  // own clocks may disagree by more than a TTL.
  async list(): Promise<NodeRecord[]> {
    const ids = await this.redis.smembers(this.keys.nodes());
    const records = await Promise.all(ids.map((id) => this.redis.get(this.keys.node(id))));
    // Ids of nodes that died without a clean stop are pruned here. A node
    // that registered again since its record was read loses its id too:
    // it finds that out within a second and adds it back (cluster.ts).
    const dead = ids.filter((_id, at) => records[at] === null);
    if (dead.length > 0) await this.redis.srem(this.keys.nodes(), ...dead);
    const nodes = records
      .map(parseRecord)
      .filter((record): record is NodeRecord => record !== undefined)
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    this.cached = { at: Date.now(), nodes };
    return nodes;
  }

  // The nodes that were live when Redis last answered.
  lastKnown(): NodeRecord[] {
    return this.cached?.nodes ?? [];
  }

  // A live node by id, for each message routed to it: from a list at most a
  // second old. A node missing from it may have registered since, and is
  // looked up at once; a dead one (its presence outlives it by up to a TTL)
  // at most once a second.
  async find(nodeId: string): Promise<NodeRecord | undefined> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < CACHE_MS) {
      const known = this.cached.nodes.find((node) => node.nodeId === nodeId);
      if (known || now - (this.missed.get(nodeId) ?? 0) < CACHE_MS) return known;
    }
    const found = (await this.list()).find((node) => node.nodeId === nodeId);
    if (found) this.missed.delete(nodeId);
    else this.missed.set(nodeId, now);
    // Ids of nodes dead for a while need not be kept.
    for (const [id, at] of this.missed) if (now - at > 60_000) this.missed.delete(id);
    return found;
  }
}

// A record that is not one of prim's (written by hand, or cut off) is
// skipped rather than routed to.
function parseRecord(raw: string | null): NodeRecord | undefined {
  if (raw === null) return undefined;
  try {
    const record = JSON.parse(raw) as NodeRecord;
    return typeof record.nodeId === 'string' && typeof record.address === 'string'
      ? record
      : undefined;
  } catch {
    return undefined;
  }
}
