// /system/state, /healthz and /readyz.
import type { FastifyInstance } from 'fastify';
import { PrimError } from '../../errors.js';
import type { NodeContext } from '../context.js';
import { requireAdminOrTenant } from '../auth.js';
import { ok } from '../envelope.js';
import { adminAuth, object, responses, sysAccountParams, tenantAuth } from '../schemas.js';
import { VERSION } from '../../version.js';

export function nodeState(context: NodeContext) {
  return {
    nodeId: context.nodeId,
    version: VERSION,
    state: context.state,
    startedAt: context.startedAt,
    uptimeMs: Date.now() - context.startedAt,
    connections: context.registry.size,
    tenantsOnline: context.registry.tenantNames().length,
    store: context.store.kind,
    cluster: Boolean(context.cluster),
    address: context.cluster?.address,
  };
}

// Why the node is not ready, or undefined when it is.
async function notReady(context: NodeContext): Promise<string | undefined> {
  if (context.state !== 'ready') return `node is ${context.state}`;
  try {
    await context.store.ping();
  } catch {
    return 'store unreachable';
  }
  return context.cluster?.readiness();
}

// A tenant's users and sessions on every node.
async function tenantCounts(context: NodeContext, account: string) {
  const users = new Set<string>();
  let sessions = 0;
  for (const online of (await context.delivery.usersByNode(account)).values()) {
    for (const user of online) {
      users.add(user.userId);
      sessions += user.sessions;
    }
  }
  return { account, users: users.size, sessions };
}

// Every live node of the cluster, as peers report themselves.
async function clusterNodes(cluster: NonNullable<NodeContext['cluster']>) {
  const now = Date.now();
  return (await cluster.nodeStates()).map((state) => ({
    ...state,
    uptimeMs: now - state.startedAt,
  }));
}

export function systemRoutes(app: FastifyInstance, context: NodeContext): void {
  app.get('/system/state', {
    preValidation: requireAdminOrTenant(context),
    schema: {
      summary: 'Admin: the node (and cluster); tenant: its own counts',
      tags: ['system'],
      security: [...adminAuth, ...tenantAuth],
      querystring: object({ ...sysAccountParams }),
      response: responses,
    },
    handler: async (request) => {
      if (request.tenant) return ok(await tenantCounts(context, request.tenant.account));
      const { cluster } = context;
      return ok({ ...nodeState(context), ...(cluster && { nodes: await clusterNodes(cluster) }) });
    },
  });

  app.get('/healthz', {
    schema: { summary: 'Liveness', tags: ['system'], response: responses },
    handler: async () => ok({ status: 'ok' }),
  });

  app.get('/readyz', {
    schema: {
      summary:
        'Readiness: false while starting, draining, or when the store or Redis is unreachable',
      tags: ['system'],
      response: { ...responses, 503: responses.default },
    },
    handler: async (_request, reply) => {
      const reason = await notReady(context);
      if (reason === undefined) return ok({ ready: true });
      const error = new PrimError('SERVER_ERROR', `not ready: ${reason}`);
      return reply
        .status(503)
        .send({ code: error.code, msg: error.message, data: { ready: false } });
    },
  });
}
