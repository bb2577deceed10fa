// The node the bench loads, as its REST client sees it.
import { NodeClient } from '../client/node-client.js';
import { PrimError } from '../errors.js';

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

// The bench's node: its REST API, and the /acc address for a token.
export class BenchNode extends NodeClient {
  constructor(url: string) {
    super(nodeOrigin(url), 'start one, or check --url');
  }

  // The /acc address for a token: ws:// for http://, wss:// for https://.
  accUrl(token: string): string {
    return `${this.baseUrl.replace(/^http/, 'ws')}/acc?token=${encodeURIComponent(token)}`;
  }
}
