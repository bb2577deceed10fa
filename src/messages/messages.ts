// Sending and syncing messages: store first, then deliver. A message is
// acknowledged only once it is in the store; delivery failures never undo
// that, the receiver finds the message in its inbox on the next sync.
import { PrimError } from '../errors.js';
import type { Store, StoredMessage } from '../store/store.js';
import { inboxSeqOf } from '../store/store.js';
import { lazyFrame, type Delivery, type LazyFrame } from './delivery.js';
import type { SendInput } from './input.js';
import type { BatchWriter } from './writer.js';

export interface Sender {
  userId: string;
  nickname: string;
  avatar: string;
}

export interface Ack {
  id: string;
  inboxSeq: number;
  time: number;
  delivered: boolean;
  // Only on a resend of a clientMsgId that was already stored: the message
  // was not stored or pushed again.
  duplicate?: true;
}

// The `msg` of a pushed message frame and of each entry that sync returns.
export interface MessageView {
  id: string;
  inboxSeq: number;
  senderInfo: { userId: string; nickname: string; avatar: string };
  receiverId: string;
  message: string;
  msgType: number;
  msgContType: number;
  time: number;
  dateTime: string;
}

export function viewMessage(message: StoredMessage, forUser: string): MessageView {
  return {
    id: message.id,
    inboxSeq: inboxSeqOf(message, forUser),
    senderInfo: {
      userId: message.senderId,
      nickname: message.senderNickname,
      avatar: message.senderAvatar,
    },
    receiverId: message.receiverId,
    message: message.message,
    msgType: message.msgType,
    msgContType: message.msgContType,
    time: message.time,
    dateTime: new Date(message.time).toISOString(),
  };
}

// Serialised once per receiving user: every session of that user gets the
// same bytes.
function pushFrame(message: StoredMessage, forUser: string): LazyFrame {
  return lazyFrame(() => ({ seq: message.id, action: 'msg', msg: viewMessage(message, forUser) }));
}

export const MAX_SYNC_LIMIT = 500;

export class Messages {
  constructor(
    private readonly store: Store,
    private readonly writer: BatchWriter,
    private readonly delivery: Delivery,
    private readonly clock: () => number = Date.now,
  ) {}

  async send(
    tenant: string,
    sender: Sender,
    input: SendInput,
    // The connection the message came from, spared the echo.
    fromConnId?: string,
  ): Promise<Ack> {
    const result = await this.writer.append({
      tenant,
      senderId: sender.userId,
      receiverId: input.receiverId,
      message: input.message,
      msgType: input.msgType,
      msgContType: input.msgContType,
      clientMsgId: input.clientMsgId,
      senderNickname: sender.nickname,
      senderAvatar: sender.avatar,
      time: this.clock(),
    });
    if (!result) {
      throw new PrimError('UNAUTHORIZED', `tenant "${tenant}" does not exist`);
    }
    const stored = result.message;
    const ack: Ack = {
      id: stored.id,
      inboxSeq: stored.senderSeq,
      time: stored.time,
      delivered: false,
    };
    if (result.duplicate) return { ...ack, duplicate: true };

    const toReceiver = this.delivery.push(
      tenant,
      stored.receiverId,
      pushFrame(stored, stored.receiverId),
      fromConnId,
    );
    const toSender =
      stored.senderId === stored.receiverId
        ? Promise.resolve(0)
        : this.delivery.push(
            tenant,
            stored.senderId,
            pushFrame(stored, stored.senderId),
            fromConnId,
          );
    const [reached] = await Promise.all([toReceiver, toSender]);
    return { ...ack, delivered: reached > 0 };
  }

  async sync(tenant: string, userId: string, since: number, limit: number) {
    const page = await this.store.readInbox(tenant, userId, since, limit);
    return {
      messages: page.messages.map((message) => viewMessage(message, userId)),
      hasMore: page.hasMore,
    };
  }

  inboxHead(tenant: string, userId: string): Promise<number> {
    return this.store.inboxHead(tenant, userId);
  }

  // Online-only: nothing is stored, so there is no id and no inboxSeq.
  async broadcast(
    tenant: string,
    sender: Sender,
    message: string,
    msgType: number,
    msgContType: number,
  ) {
    const time = this.clock();
    const frame = {
      seq: '',
      action: 'broadcast',
      msg: {
        senderInfo: sender,
        message,
        msgType,
        msgContType,
        time,
        dateTime: new Date(time).toISOString(),
      },
    };
    return this.delivery.broadcast(tenant, Buffer.from(JSON.stringify(frame)));
  }
}
