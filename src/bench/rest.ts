// The REST calls the bench makes to a node, with failures turned into
// catalogue errors that name the node and the call.
import { errorForCode, PrimError } from '../errors.js';

// A node that takes longer than this for a token or a tenant is not one
// worth measuring.
const CALL_TIMEOUT_MS = 10_000;

// The origin (scheme, host, port) of a node's URL, which must be http(s).
export function nodeOrigin(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PrimError('BAD_PARAMETER', `--url: "${url}" is not a URL; write http://host:port`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new PrimError(
      'BAD_PARAMETER',
      `--url: "${url}" is not allowed; use an http:// or https:// URL of a node`,
    );
  }
  return parsed.origin;
}

export class NodeClient {
  readonly url: string;

  constructor(url: string) {
    this.url = nodeOrigin(url);
  }

  // The /acc address for a token: ws:// for http://, wss:// for https://.
  accUrl(token: string): string {
    return `${this.url.replace(/^http/, 'ws')}/acc?token=${encodeURIComponent(token)}`;
  }

  async call(method: 'GET' | 'POST', path: string, auth: string, body?: unknown): Promise<any> {
    const headers: Record<string, string> = { authorization: auth };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (err) {
      throw new PrimError(
        'OPERATION_FAILED',
        `cannot reach the node at ${this.url} (${reason(err)}); ` +
          'is it running, and is --url right?',
      );
    }

    let envelope: { code?: unknown; msg?: unknown; data?: unknown };
    try {
      envelope = (await response.json()) as typeof envelope;
    } catch {
      envelope = {};
    }
    if (typeof envelope.code !== 'number') {
      throw new PrimError(
        'OPERATION_FAILED',
        `${this.url}${path} answered HTTP ${response.status} without prim's ` +
          '{code, msg, data}; is --url a prim node?',
      );
    }
    if (envelope.code !== 200) {
      throw errorForCode(envelope.code, `${method} ${path} refused: ${String(envelope.msg)}`);
    }
    return envelope.data;
  }
}

// fetch hides the useful part (ECONNREFUSED, a timeout) in `cause`.
function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((err as Error).name === 'TimeoutError') return `no answer within ${CALL_TIMEOUT_MS} ms`;
  return cause?.message ?? (err as Error).message;
}
