// Calls a node's REST API and returns the HTTP status with prim's envelope.
export interface RestResult {
  status: number;
  code: number;
  msg: string;
  data: any;
}

export async function call(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  options: { auth?: string; body?: unknown; query?: Record<string, string | number> } = {},
): Promise<RestResult> {
  const url = new URL(path, baseUrl);
  for (const [key, value] of Object.entries(options.query ?? {}))
    url.searchParams.set(key, String(value));
  const headers: Record<string, string> = {};
  if (options.auth) headers.authorization = options.auth;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(url, { method, headers, body });
  const envelope = (await response.json()) as { code: number; msg: string; data: unknown };
  return { status: response.status, ...envelope } as RestResult;
}
