// Every Redis key prim writes, under the configured prefix. Tenant and user
// ids are percent-encoded, so ":" inside an id can never make two different
// (tenant, user) pairs share a key.

const part = (id: string) => encodeURIComponent(id);

export class Keys {
  constructor(readonly prefix: string) {}

  // The ids of the nodes that registered; a node lives while its record does.
  nodes(): string {
    return `${this.prefix}nodes`;
  }

  // One node's record (JSON), with the registry TTL.
  node(nodeId: string): string {
    return `${this.prefix}node:${part(nodeId)}`;
  }

  // A user's sessions on every node: a hash of connId → PresenceEntry.
  presence(tenant: string, userId: string): string {
    return `${this.prefix}presence:${part(tenant)}:${part(userId)}`;
  }

  // What a node has published, so that its next incarnation can take it
  // back: a set of JSON [tenant, userId, connId].
  published(nodeId: string): string {
    return `${this.prefix}published:${part(nodeId)}`;
  }
}
