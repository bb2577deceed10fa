// The CLI as a tenant backend of the running node: REST calls with the
// tenant's credentials, which it reads from the store it shares with the
// node.
import type { Config } from '../config/schema.js';
import { NodeClient, type Query } from '../client/node-client.js';
import { PrimError } from '../errors.js';
import { daemonFiles, livePid, urlInPidFile } from './background.js';
import { withTenants } from './context.js';

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

// The node this config's commands talk to: the background node of its
// dataDir where it listens (it may have been started with PRIM_HTTP_PORT),
// else where the config says.
export function runningNodeUrl(config: Config): string {
  const files = daemonFiles(config);
  return (livePid(files) !== undefined && urlInPidFile(files.pidFile)) || nodeUrl(config);
}

// The node of this config, called with one tenant's credentials.
export class TenantClient {
  private constructor(
    private readonly node: NodeClient,
    private readonly authorization: string,
  ) {}

  static async open(config: Config, account: string): Promise<TenantClient> {
    const tenant = await withTenants(config, (tenants) => tenants.require(account));
    const basic = Buffer.from(`${tenant.account}:${tenant.secret}`).toString('base64');
    const node = new NodeClient(
      runningNodeUrl(config),
      'start one with `prim serve` (it listens on http.host and http.port of the config)',
    );
    return new TenantClient(node, `Basic ${basic}`);
  }

  get baseUrl(): string {
    return this.node.baseUrl;
  }

  get<T>(path: string, query: Query): Promise<T> {
    return this.node.call<T>('GET', path, this.authorization, { query });
  }

  post<T>(path: string, body: Record<string, unknown>): Promise<T> {
    return this.node.call<T>('POST', path, this.authorization, { body });
  }
}
