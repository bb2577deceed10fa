// /sysClient/*: tenant management (admin) and what tenant backends do for
// their users: tokens and exit.
import type { FastifyInstance } from 'fastify';
import { checkAccount, checkPlatformOrAll, checkUserId } from '../../auth/ids.js';
import { viewTenant } from '../../auth/tenants.js';
import { issueToken } from '../../auth/tokens.js';
import { parseDuration } from '../../config/values.js';
import { CloseCode, PrimError } from '../../errors.js';
import type { NodeContext } from '../context.js';
import { requireAdmin, requireTenant } from '../auth.js';
import { ok } from '../envelope.js';
import {
  adminAuth,
  bodyTypes,
  object,
  paging,
  responses,
  str,
  sysAccountParams,
  tenantAuth,
} from '../schemas.js';

type Params = Record<string, string | number | undefined>;

const ttl = {
  anyOf: [{ type: 'string' }, { type: 'number' }],
  description: 'token lifetime: seconds, or a duration like 12h',
};

export function sysClientRoutes(app: FastifyInstance, context: NodeContext): void {
  const admin = { preValidation: requireAdmin(context) };
  const tenant = { preValidation: requireTenant(context) };
  const { tenants, config } = context;
  const tokenPolicy = context.gateway.tokenPolicy;
  const account = object({ account: str }, ['account']);

  app.post('/sysClient/createSysClient', {
    ...admin,
    schema: {
      summary: 'Create a tenant; data is {account, authCode}, shown only now',
      tags: ['tenants'],
      security: adminAuth,
      consumes: bodyTypes,
      body: object({ account: str, phoneNum: str }, ['account']),
      response: responses,
    },
    handler: async (request, reply) => {
      const body = request.body as Params;
      const created = await tenants.create(String(body.account), body.phoneNum as string);
      request.log.info({ tenant: created.account }, 'tenant created');
      return reply.send(ok(created));
    },
  });

  app.get('/sysClient/getSysClient', {
    ...admin,
    schema: {
      summary: 'A tenant without its secrets',
      tags: ['tenants'],
      security: adminAuth,
      querystring: account,
      response: responses,
    },
    handler: async (request) => {
      const found = await tenants.require(String((request.query as Params).account));
      return ok(viewTenant(found));
    },
  });

  app.get('/sysClient/list', {
    ...admin,
    schema: {
      summary: 'Tenants, paged: {list, total, page, pageSize}',
      tags: ['tenants'],
      security: adminAuth,
      querystring: object(paging),
      response: responses,
    },
    handler: async (request) => {
      const { page, pageSize } = request.query as { page: number; pageSize: number };
      const { tenants: list, total } = await tenants.list((page - 1) * pageSize, pageSize);
      return ok({ list, total, page, pageSize });
    },
  });

  app.post('/sysClient/rotateSecret', {
    ...admin,
    schema: {
      summary:
        'A new authCode; the old one signs no new tokens but verifies for tokens.rotationGrace',
      tags: ['tenants'],
      security: adminAuth,
      consumes: bodyTypes,
      body: account,
      response: responses,
    },
    handler: async (request) => {
      const rotated = await tenants.rotateSecret(checkAccount((request.body as Params).account));
      request.log.info({ tenant: rotated.account }, 'tenant secret rotated');
      return ok(rotated);
    },
  });

  for (const [path, disabled] of [
    ['/sysClient/disable', true],
    ['/sysClient/enable', false],
  ] as const) {
    app.post(path, {
      ...admin,
      schema: {
        summary: disabled
          ? 'Disable a tenant: its sessions close with 4504, its tokens and credentials are refused'
          : 'Enable a disabled tenant',
        tags: ['tenants'],
        security: adminAuth,
        consumes: bodyTypes,
        body: account,
        response: responses,
      },
      handler: async (request) => {
        const name = checkAccount((request.body as Params).account);
        const view = await tenants.setDisabled(name, disabled);
        if (disabled) {
          await context.delivery.kick(
            name,
            undefined,
            undefined,
            CloseCode.TENANT_DISABLED,
            'tenant disabled',
          );
        }
        request.log.info({ tenant: name, disabled }, 'tenant changed');
        return ok(view);
      },
    });
  }

  const tokenSchema = {
    summary: 'A connection token for one user: {token, expiresAt}',
    tags: ['tokens'],
    security: tenantAuth,
    response: responses,
  };
  const tokenParams = object(
    { userId: str, appPlatform: str, nickname: str, avatar: str, ttl, ...sysAccountParams },
    ['userId', 'appPlatform'],
  );
  const getToken = async (params: Params, owner: string) => {
    const found = await tenants.require(owner);
    const issued = await issueToken(
      found,
      {
        userId: checkUserId(params.userId),
        platform: String(params.appPlatform),
        nickname: params.nickname as string | undefined,
        avatar: params.avatar as string | undefined,
        ttlMs:
          params.ttl === undefined ? config.tokens.defaultTtl : parseDuration('ttl', params.ttl),
      },
      tokenPolicy,
    );
    return ok(issued);
  };
  app.post('/sysClient/getToken', {
    ...tenant,
    schema: { ...tokenSchema, consumes: bodyTypes, body: tokenParams },
    handler: async (request) => getToken(request.body as Params, request.tenant!.account),
  });
  app.get('/sysClient/getToken', {
    ...tenant,
    schema: { ...tokenSchema, querystring: tokenParams },
    handler: async (request) => getToken(request.query as Params, request.tenant!.account),
  });

  app.post('/sysClient/updateTokenVal', {
    ...tenant,
    schema: {
      summary: 'A new token for the same user; the old one stays valid until it expires',
      tags: ['tokens'],
      security: tenantAuth,
      consumes: bodyTypes,
      body: object({ token: str, nickname: str, avatar: str, ttl, ...sysAccountParams }, ['token']),
      response: responses,
    },
    handler: async (request) => {
      const body = request.body as Params;
      const claims = await context.gateway.verify(body.token);
      if (claims.tenant !== request.tenant!.account) {
        throw new PrimError('UNAUTHORIZED', 'the token belongs to another tenant');
      }
      return getToken(
        {
          userId: claims.userId,
          appPlatform: claims.platform,
          nickname: body.nickname ?? claims.nickname,
          avatar: body.avatar ?? claims.avatar,
          ttl: body.ttl,
        },
        claims.tenant,
      );
    },
  });

  app.post('/sysClient/exit', {
    ...tenant,
    schema: {
      summary: "Close a user's sessions on every node (4503) and revoke tokens issued before now",
      tags: ['users'],
      security: tenantAuth,
      consumes: bodyTypes,
      body: object({ userId: str, appPlatform: str, token: str, ...sysAccountParams }),
      response: responses,
    },
    handler: async (request) => {
      const body = request.body as Params;
      const owner = request.tenant!.account;
      let userId: string;
      let platform: string | undefined;
      if (body.token !== undefined && body.userId === undefined) {
        const claims = await context.gateway.verify(body.token);
        if (claims.tenant !== owner) {
          throw new PrimError('UNAUTHORIZED', 'the token belongs to another tenant');
        }
        ({ userId, platform } = claims);
      } else {
        userId = checkUserId(body.userId);
        platform = checkPlatformOrAll(body.appPlatform, config.platforms);
      }
      await context.store.revoke(owner, userId, platform, Date.now());
      const closed = await context.delivery.kick(
        owner,
        userId,
        platform,
        CloseCode.KICKED,
        'kicked',
      );
      request.log.info({ tenant: owner, userId, platform, closed }, 'user kicked');
      return ok({ userId, platform: platform ?? 'all', closed });
    },
  });
}
