// /msg/*: sending, broadcasting and reading messages from a tenant backend.
import type { FastifyInstance } from 'fastify';
import { checkUserId, SYSTEM_USER } from '../../auth/ids.js';
import { PrimError } from '../../errors.js';
import { checkMessageText, checkMessageType, parseSendInput } from '../../messages/input.js';
import type { NodeContext } from '../context.js';
import { requireTenant, requireTenantOrUser } from '../auth.js';
import { ok } from '../envelope.js';
import { viewMessage } from '../../messages/messages.js';
import {
  bodyTypes,
  int,
  object,
  responses,
  str,
  sysAccountParams,
  tenantAuth,
} from '../schemas.js';

type Params = Record<string, unknown>;

const MAX_PAGE = 500;

const messageFields = {
  receiverId: str,
  message: str,
  msgType: int,
  msgContType: int,
  clientMsgId: { ...str, description: 'resending the same id within 24 h stores it once' },
};

export function msgRoutes(app: FastifyInstance, context: NodeContext): void {
  const { config, messages } = context;

  app.post('/msg/sendMsg', {
    preValidation: requireTenantOrUser(context),
    schema: {
      summary: 'Store a message and deliver it: {id, inboxSeq, time, delivered}',
      description:
        'As a tenant backend the sender is senderId (default "system"); with a ' +
        "user's connection token (Bearer) the sender is that user.",
      tags: ['messages'],
      security: [...tenantAuth, { userToken: [] }],
      consumes: bodyTypes,
      body: object(
        {
          ...messageFields,
          senderId: str,
          senderNickname: str,
          senderAvatar: str,
          ...sysAccountParams,
        },
        ['receiverId', 'message'],
      ),
      response: responses,
    },
    handler: async (request) => {
      const body = request.body as Params;
      const input = parseSendInput(body, config.limits.maxFrameBytes);
      const claims = request.claims;
      const tenant = claims?.tenant ?? request.tenant!.account;
      const sender = claims
        ? { userId: claims.userId, nickname: claims.nickname, avatar: claims.avatar }
        : {
            userId: checkUserId(body.senderId ?? SYSTEM_USER, 'senderId'),
            nickname: String(body.senderNickname ?? ''),
            avatar: String(body.senderAvatar ?? ''),
          };
      return ok(await messages.send(tenant, sender, input));
    },
  });

  app.post('/msg/sendMsgAll', {
    preValidation: requireTenant(context),
    schema: {
      summary: 'Push to every connected user of the tenant, not stored: {sessions}',
      tags: ['messages'],
      security: tenantAuth,
      consumes: bodyTypes,
      body: object(
        { message: str, msgType: int, msgContType: int, senderId: str, ...sysAccountParams },
        ['message'],
      ),
      response: responses,
    },
    handler: async (request) => {
      const body = request.body as Params;
      const sender = {
        userId: checkUserId(body.senderId ?? SYSTEM_USER, 'senderId'),
        nickname: '',
        avatar: '',
      };
      const sessions = await messages.broadcast(
        request.tenant!.account,
        sender,
        checkMessageText(body.message, config.limits.maxFrameBytes),
        checkMessageType('msgType', body.msgType),
        checkMessageType('msgContType', body.msgContType),
      );
      return ok({ sessions });
    },
  });

  app.get('/msg/getMsg', {
    preValidation: requireTenant(context),
    schema: {
      summary: 'One conversation, both directions, oldest first: {msgList, hasMore}',
      description:
        'Without before or after, from the start. after=<id>: the next page; ' +
        'before=<id>: the page just before that message.',
      tags: ['messages'],
      security: tenantAuth,
      querystring: object(
        {
          senderId: str,
          receiverId: str,
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
          before: { type: 'string', pattern: '^[0-9]+$' },
          after: { type: 'string', pattern: '^[0-9]+$' },
          ...sysAccountParams,
        },
        ['senderId', 'receiverId'],
      ),
      response: responses,
    },
    handler: async (request) => {
      const query = request.query as Params & { limit: number };
      if (query.before !== undefined && query.after !== undefined) {
        throw new PrimError('BAD_PARAMETER', 'give before or after, not both');
      }
      const userA = checkUserId(query.senderId, 'senderId');
      const userB = checkUserId(query.receiverId, 'receiverId');
      const page = await context.store.readConversation(request.tenant!.account, userA, userB, {
        limit: query.limit,
        before: query.before as string | undefined,
        after: query.after as string | undefined,
      });
      // inboxSeq is given as the first-named user (senderId) numbers it.
      return ok({
        msgList: page.messages.map((m) => viewMessage(m, userA)),
        hasMore: page.hasMore,
      });
    },
  });
}
