// The client actions of the /acc protocol, one handler each.
import { CloseCode, PrimError } from '../errors.js';
import { parseSendInput } from '../messages/input.js';
import { MAX_SYNC_LIMIT } from '../messages/messages.js';
import type { Gateway } from './gateway.js';
import { encodeFrame, type Frame } from './protocol.js';
import type { Session } from './session.js';

interface Action {
  needsLogin: boolean;
  run(gateway: Gateway, session: Session, frame: Frame): Promise<void>;
}

export const ACTIONS: Record<string, Action> = {
  login: {
    needsLogin: false,
    async run(gateway, session, frame) {
      if (session.claims) {
        throw new PrimError('BAD_PARAMETER', 'this connection is already logged in');
      }
      const token = (frame.msg as { token?: unknown } | undefined)?.token;
      const claims = await gateway.verify(token);
      session.send(
        encodeFrame(frame.seq, 'login', { userId: claims.userId, platform: claims.platform }),
      );
      await gateway.login(session, claims);
    },
  },

  ping: {
    needsLogin: false,
    async run(_gateway, session, frame) {
      session.send(encodeFrame(frame.seq, 'ok', { result: 'pong' }));
    },
  },

  heartbeat: {
    needsLogin: false,
    async run(_gateway, session, frame) {
      session.send(encodeFrame(frame.seq, 'heartbeat', { serverTime: Date.now() }));
    },
  },

  msg: {
    needsLogin: true,
    async run(gateway, session, frame) {
      const { config, messages } = gateway.deps;
      const input = parseSendInput(frame.msg, config.limits.maxFrameBytes);
      if (!session.takeMessageToken()) {
        throw new PrimError(
          'RATE_LIMITED',
          `more than ${config.limits.messagesPerSecond} messages a second ` +
            '(config key limits.messagesPerSecond); slow down and resend',
        );
      }
      const claims = session.claims!;
      const sender = { userId: claims.userId, nickname: claims.nickname, avatar: claims.avatar };
      const ack = await messages.send(claims.tenant, sender, input, session.connId);
      session.send(encodeFrame(frame.seq, 'ack', ack));
    },
  },

  sync: {
    needsLogin: true,
    async run(gateway, session, frame) {
      const msg = (frame.msg ?? {}) as { since?: unknown; limit?: unknown };
      const since = msg.since ?? 0;
      const limit = msg.limit ?? 100;
      if (!Number.isInteger(since) || (since as number) < 0) {
        throw new PrimError('BAD_PARAMETER', 'since must be an inboxSeq (a whole number ≥ 0)');
      }
      if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_SYNC_LIMIT) {
        throw new PrimError(
          'BAD_PARAMETER',
          `limit must be a whole number from 1 to ${MAX_SYNC_LIMIT}`,
        );
      }
      const claims = session.claims!;
      const page = await gateway.deps.messages.sync(
        claims.tenant,
        claims.userId,
        since as number,
        limit as number,
      );
      session.send(encodeFrame(frame.seq, 'sync', page));
    },
  },

  exit: {
    needsLogin: false,
    async run(_gateway, session, frame) {
      session.send(encodeFrame(frame.seq, 'exit'));
      session.close(CloseCode.NORMAL, 'bye', false);
    },
  },
};
