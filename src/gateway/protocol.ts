// The /acc frame format: {"seq", "action", "msg"} JSON text frames.
import { PrimError } from '../errors.js';

export type Seq = string | number;

export interface Frame {
  seq: Seq;
  action: string;
  msg: unknown;
}

export function parseFrame(data: Buffer | string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    throw new PrimError('BAD_PARAMETER', 'the frame is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PrimError('BAD_PARAMETER', 'a frame must be a JSON object with seq, action and msg');
  }
  const frame = value as Record<string, unknown>;
  const seq = frame.seq ?? '';
  if (typeof seq !== 'string' && typeof seq !== 'number') {
    throw new PrimError('BAD_PARAMETER', 'seq must be a string or a number');
  }
  if (typeof frame.action !== 'string' || frame.action === '') {
    throw new PrimError('BAD_PARAMETER', 'action must be a non-empty string');
  }
  return { seq, action: frame.action, msg: frame.msg };
}

// The seq of a frame that could not be parsed, if it can be recovered, so
// that the error reply still matches the request.
export function seqOf(data: Buffer | string): Seq {
  try {
    const seq = (JSON.parse(String(data)) as { seq?: unknown }).seq;
    return typeof seq === 'string' || typeof seq === 'number' ? seq : '';
  } catch {
    return '';
  }
}

export function encodeFrame(seq: Seq, action: string, msg?: unknown): string {
  return JSON.stringify(msg === undefined ? { seq, action } : { seq, action, msg });
}

export function errorFrame(seq: Seq, err: PrimError): string {
  return encodeFrame(seq, 'error', { code: err.code, error: err.message });
}
