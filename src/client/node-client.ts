// A REST client of a prim node, shared by the CLI and the bench: one call
// path that turns transport failures and refusals into catalogue errors
// naming the node.
import { errorForCode, PrimError } from '../errors.js';

const TIMEOUT_MS = 10_000;

export type Query = Record<string, string | number | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
}

export class NodeClient {
  // `hint` ends the error when the node cannot be reached: what the user
  // should check (a running `prim serve`, the --url flag).
  constructor(
    readonly baseUrl: string,
    private readonly hint: string,
  ) {}

  async call<T = any>(
    method: 'GET' | 'POST',
    path: string,
    authorization: string,
    options: CallOptions = {},
  ): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { authorization };
    if (options.body !== undefined) headers['content-type'] = 'application/json';

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw this.unreachable(err);
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
        `${this.baseUrl} answered ${method} ${url.pathname} with HTTP ${response.status} ` +
          `and no prim response; ${this.hint}`,
      );
    }
    if (envelope.code !== 200) throw errorForCode(envelope.code, String(envelope.msg));
    return envelope.data as T;
  }

  private unreachable(err: unknown): PrimError {
    if (err instanceof Error && err.name === 'TimeoutError') {
      return new PrimError(
        'OPERATION_FAILED',
        `the node at ${this.baseUrl} did not answer within ${TIMEOUT_MS / 1000}s`,
      );
    }
    // fetch hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') {
      return new PrimError(
        'OPERATION_FAILED',
        `no node is running at ${this.baseUrl}; ${this.hint}`,
      );
    }
    return new PrimError(
      'OPERATION_FAILED',
      `cannot reach the node at ${this.baseUrl}: ${cause ?? (err as Error).message}; ${this.hint}`,
    );
  }
}
