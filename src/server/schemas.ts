// Pieces shared by the route schemas. The schemas validate requests and
// are the OpenAPI document at /openapi.json.

export const str = { type: 'string' } as const;
export const int = { type: 'integer' } as const;

// The response every route sends; `data` is described per route in its
// summary, since prim clients read the envelope first.
export const envelope = {
  type: 'object',
  properties: {
    code: { type: 'integer', description: '200 on success, else a prim error code' },
    msg: { type: 'string' },
    data: {},
  },
} as const;

export const responses = {
  200: { description: 'ok', ...envelope },
  default: { description: 'an error: code and msg say what was wrong', ...envelope },
} as const;

export function object(
  properties: Record<string, unknown>,
  required: string[] = [],
): Record<string, unknown> {
  return { type: 'object', properties, required };
}

// What a POST body may be; the OpenAPI document lists both.
export const bodyTypes = ['application/json', 'application/x-www-form-urlencoded'];

type Security = Array<Record<string, string[]>>;

export const tenantAuth: Security = [{ tenantBasic: [] }, { sysAccountParams: [] }];
export const adminAuth: Security = [{ adminKey: [] }];

// prim's compatibility parameters for tenant auth, accepted on every
// tenant route.
export const sysAccountParams = {
  sysAccount: { ...str, description: 'tenant account (instead of Basic auth)' },
  authCode: { ...str, description: 'tenant secret (instead of Basic auth)' },
};

// page is bounded so that the offset it makes stays a safe integer.
export const paging = {
  page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 },
  pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
};
