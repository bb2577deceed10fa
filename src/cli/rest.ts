// The CLI as a tenant backend of the running node: REST calls with the
// tenant's credentials, which it reads from the store it shares with the
// node.
import type { Config } from '../config/schema.js';
import { errorForCode, PrimError } from '../errors.js';
import { withTenants } from './context.js';

const TIMEOUT_MS = 10_000;

type Query = Record<string, string | number | undefined>;

// Where the node of this config listens, as a client reaches it.
export function nodeUrl(config: Config): string {
  const { host, port } = config.http;
  if (port === 0) {
    throw new PrimError(
      'BAD_PARAMETER',
      'http.port is 0 (any free port), so the CLI cannot know where the node ' +
        'listens; set http.port to a fixed port',
    );
  }
  // A node bound to every interface is reached on loopback.
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${target.includes(':') ? `[${target}]` : target}:${port}`;
}

export class TenantClient {
  private constructor(
    readonly baseUrl: string,
    private readonly authorization: string,
  ) {}

  static async open(config: Config, account: string): Promise<TenantClient> {
    const baseUrl = nodeUrl(config);
    const tenant = await withTenants(config, (tenants) => tenants.require(account));
    const basic = Buffer.from(`${tenant.account}:${tenant.secret}`).toString('base64');
    return new TenantClient(baseUrl, `Basic ${basic}`);
  }

  get<T>(path: string, query: Query): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return this.call<T>(url, { method: 'GET' });
  }

  post<T>(path: string, body: Record<string, unknown>): Promise<T> {
    return this.call<T>(new URL(path, this.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private async call<T>(url: URL, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        headers: { ...init.headers, authorization: this.authorization },
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
        'SERVER_ERROR',
        `${this.baseUrl} answered ${url.pathname} with HTTP ${response.status} and no ` +
          'prim response; is http.port the port of a prim node?',
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
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') {
      return new PrimError(
        'OPERATION_FAILED',
        `no node is running at ${this.baseUrl} (http.host and http.port of the config); ` +
          'start one with `prim serve`',
      );
    }
    return new PrimError(
      'OPERATION_FAILED',
      `cannot reach the node at ${this.baseUrl}: ${cause ?? (err as Error).message}; ` +
        'is `prim serve` running there?',
    );
  }
}
