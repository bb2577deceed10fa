// /user/*: who of a tenant is online.
import type { FastifyInstance } from 'fastify';
import { checkPlatformOrAll, checkUserId } from '../../auth/ids.js';
import type { NodeContext } from '../context.js';
import { requireTenant } from '../auth.js';
import { ok } from '../envelope.js';
import { object, paging, responses, str, sysAccountParams, tenantAuth } from '../schemas.js';
import type { OnlineUser } from '../../messages/delivery.js';

// Users online on any node, each with every platform it is online on.
async function onlineUsers(
  context: NodeContext,
  tenant: string,
): Promise<Omit<OnlineUser, 'sessions'>[]> {
  const byUser = new Map<string, Set<string>>();
  for (const users of (await context.delivery.usersByNode(tenant)).values()) {
    for (const user of users) {
      const platforms = byUser.get(user.userId) ?? new Set<string>();
      user.platforms.forEach((platform) => platforms.add(platform));
      byUser.set(user.userId, platforms);
    }
  }
  return [...byUser]
    .map(([userId, platforms]) => ({ userId, platforms: [...platforms].sort() }))
    .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}

export function userRoutes(app: FastifyInstance, context: NodeContext): void {
  const tenant = { preValidation: requireTenant(context) };

  app.get('/user/list', {
    ...tenant,
    schema: {
      summary:
        "The tenant's online users, paged: {list: [{userId, platforms}], total, page, pageSize}",
      tags: ['users'],
      security: tenantAuth,
      querystring: object({ ...paging, ...sysAccountParams }),
      response: responses,
    },
    handler: async (request) => {
      const { page, pageSize } = request.query as { page: number; pageSize: number };
      // Not yet bounded: a tenant with very many online users gathers the
      // whole list before one page is cut from it.
      const users = await onlineUsers(context, request.tenant!.account);
      const list = users.slice((page - 1) * pageSize, page * pageSize);
      return ok({ list, total: users.length, page, pageSize });
    },
  });

  app.get('/user/online', {
    ...tenant,
    schema: {
      summary: 'Whether a user is online: {userId, online, platforms}',
      tags: ['users'],
      security: tenantAuth,
      querystring: object(
        {
          userId: str,
          appPlatform: { ...str, description: 'a platform or "all"' },
          ...sysAccountParams,
        },
        ['userId'],
      ),
      response: responses,
    },
    handler: async (request) => {
      const query = request.query as { userId: string; appPlatform?: string };
      const userId = checkUserId(query.userId);
      const platform = checkPlatformOrAll(query.appPlatform, context.config.platforms);
      const user = (await onlineUsers(context, request.tenant!.account)).find(
        (candidate) => candidate.userId === userId,
      );
      const platforms = (user?.platforms ?? []).filter(
        (p) => platform === undefined || p === platform,
      );
      return ok({ userId, online: platforms.length > 0, platforms });
    },
  });

  app.get('/user/listUserMaps', {
    ...tenant,
    schema: {
      summary: "The tenant's online users by node: {<nodeId>: [userId…]}",
      tags: ['users'],
      security: tenantAuth,
      querystring: object({ ...sysAccountParams }),
      response: responses,
    },
    handler: async (request) => {
      const byNode = await context.delivery.usersByNode(request.tenant!.account);
      const maps: Record<string, string[]> = {};
      for (const [nodeId, users] of byNode) maps[nodeId] = users.map((user) => user.userId).sort();
      return ok(maps);
    },
  });
}
