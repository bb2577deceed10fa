// The /acc frame format: {"seq", "action", "msg"} JSON text frames.
import { PrimError } from '../errors.js';

export type Seq = string | number;

export interface Frame {
  seq: Seq;
  action: string;
  msg: unknown;
}

export type Decoded = { frame: Frame } | { seq: Seq; error: PrimError };

// Parses a frame once. A frame that is JSON but not a valid frame still
// gives back its seq, so that the error reply matches the request.
export function decodeFrame(data: Buffer | string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { seq: '', error: new PrimError('BAD_PARAMETER', 'the frame is not valid JSON') };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const error = new PrimError(
      'BAD_PARAMETER',
      'a frame must be a JSON object with seq, action and msg',
    );
    return { seq: '', error };
  }
  const raw = value as Record<string, unknown>;
  const seq = raw.seq ?? '';
  if (typeof seq !== 'string' && typeof seq !== 'number') {
    return { seq: '', error: new PrimError('BAD_PARAMETER', 'seq must be a string or a number') };
  }
  if (typeof raw.action !== 'string' || raw.action === '') {
    return { seq, error: new PrimError('BAD_PARAMETER', 'action must be a non-empty string') };
  }
  return { frame: { seq, action: raw.action, msg: raw.msg } };
}

export function encodeFrame(seq: Seq, action: string, msg?: unknown): string {
  return JSON.stringify(msg === undefined ? { seq, action } : { seq, action, msg });
}

export function errorFrame(seq: Seq, err: PrimError): string {
  return encodeFrame(seq, 'error', { code: err.code, error: err.message });
}
