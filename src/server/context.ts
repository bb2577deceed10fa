// What the REST routes and the /acc route share: the parts of a running node.
import type { ClusterNode } from '../cluster/cluster.js';
import type { Tenant } from '../store/store.js';
import type { TokenClaims } from '../auth/tokens.js';
import type { Tenants } from '../auth/tenants.js';
import type { Config } from '../config/schema.js';
import type { Gateway } from '../gateway/gateway.js';
import type { SessionRegistry } from '../gateway/sessions.js';
import type { Delivery } from '../messages/delivery.js';
import type { Messages } from '../messages/messages.js';
import type { Store } from '../store/store.js';

export type NodeState = 'starting' | 'ready' | 'draining';

export interface NodeContext {
  nodeId: string;
  startedAt: number;
  config: Config;
  adminKey: string;
  store: Store;
  tenants: Tenants;
  messages: Messages;
  gateway: Gateway;
  registry: SessionRegistry;
  delivery: Delivery;
  state: NodeState;
  // In cluster mode only.
  cluster?: ClusterNode;
}

declare module 'fastify' {
  interface FastifyRequest {
    // Set by the auth hooks: who is calling.
    tenant?: Tenant;
    claims?: TokenClaims;
  }
}
