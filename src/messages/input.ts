// The parameters of one message, as both /acc `msg` frames and REST sendMsg
// carry them. Parsed here once so that both paths refuse the same input.
import { checkUserId, isWellFormed } from '../auth/ids.js';
import { PrimError } from '../errors.js';

export interface SendInput {
  receiverId: string;
  message: string;
  msgType: number;
  msgContType: number;
  clientMsgId: string | undefined;
}

const MAX_CLIENT_MSG_ID = 128;

export function parseSendInput(raw: unknown, maxMessageBytes: number): SendInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PrimError('BAD_PARAMETER', 'msg must be an object with receiverId and message');
  }
  const input = raw as Record<string, unknown>;
  const receiverId = checkUserId(input.receiverId, 'receiverId');

  const message = checkMessageText(input.message, maxMessageBytes);

  const clientMsgId = input.clientMsgId ?? undefined;
  if (
    clientMsgId !== undefined &&
    (typeof clientMsgId !== 'string' ||
      clientMsgId.length === 0 ||
      clientMsgId.length > MAX_CLIENT_MSG_ID)
  ) {
    throw new PrimError(
      'BAD_PARAMETER',
      `clientMsgId must be a string of 1–${MAX_CLIENT_MSG_ID} characters`,
    );
  }
  return {
    receiverId,
    message,
    msgType: checkMessageType('msgType', input.msgType),
    msgContType: checkMessageType('msgContType', input.msgContType),
    clientMsgId,
  };
}

// prim's message type fields: integers chosen by the tenant, 1 by default
// (a one-to-one text message in prim's numbering).
export function checkMessageType(name: string, raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 1;
  const value = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1_000_000) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name} ${JSON.stringify(raw)} is not allowed; use a whole number from 0 to 1000000`,
    );
  }
  return value;
}

// The most bytes a message of `maxMessageBytes` can take once written as
// JSON: a control character is a six-byte \u escape, and a client may
// escape every character so.
export function encodedMessageBytes(maxMessageBytes: number): number {
  return maxMessageBytes * 6;
}

export function checkMessageText(message: unknown, maxMessageBytes: number): string {
  if (typeof message !== 'string' || message.length === 0) {
    throw new PrimError('BAD_PARAMETER', 'message must be a non-empty string');
  }
  if (!isWellFormed(message)) {
    throw new PrimError(
      'BAD_PARAMETER',
      'message is not valid Unicode text (it holds half of a surrogate pair)',
    );
  }
  const bytes = Buffer.byteLength(message);
  if (bytes > maxMessageBytes) {
    throw new PrimError(
      'PAYLOAD_TOO_LARGE',
      `message is ${bytes} bytes; at most ${maxMessageBytes} are allowed ` +
        '(config key limits.maxFrameBytes)',
    );
  }
  return message;
}
