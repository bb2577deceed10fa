// The one error catalogue. Every error prim reports, on REST, on /acc, over
// gRPC or in the CLI, is a PrimError made from one of these kinds, so the
// wire code, the HTTP status, the close code and the gRPC status of an error
// are decided here and nowhere else.

// gRPC status numbers (from the gRPC spec) kept local so that this module
// does not load grpc-js on nodes that never start the cluster.
const GRPC = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAUTHENTICATED: 16,
} as const;

// WebSocket close codes. 4000–4499 tell the client to reconnect (and sync);
// 4500 and up tell it not to reconnect with the same token.
export const CloseCode = {
  NORMAL: 1000,
  FRAME_TOO_LARGE: 1009,
  DRAINING: 4000,
  HEARTBEAT_TIMEOUT: 4001,
  TOO_SLOW: 4002,
  INVALID_TOKEN: 4500,
  TOKEN_EXPIRED: 4501,
  REPLACED: 4502,
  KICKED: 4503,
  TENANT_DISABLED: 4504,
  CONNECTION_LIMIT: 4505,
} as const;

interface ErrorKind {
  code: number;
  text: string;
  http: number;
  grpc: number;
  // The close code a session gets when this error ends it; errors without
  // one are replied to and the connection stays open.
  close?: number;
}

export const ErrorKinds = {
  NOT_LOGGED_IN: { code: 1000, text: 'not logged in', http: 401, grpc: GRPC.UNAUTHENTICATED },
  BAD_PARAMETER: { code: 1001, text: 'bad parameter', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  BAD_USER_ID: { code: 1002, text: 'bad userId', http: 400, grpc: GRPC.INVALID_ARGUMENT },
  UNAUTHORIZED: {
    code: 1003,
    text: 'unauthorized',
    http: 401,
    grpc: GRPC.UNAUTHENTICATED,
    close: CloseCode.INVALID_TOKEN,
  },
  SERVER_ERROR: { code: 1004, text: 'server error', http: 500, grpc: GRPC.INTERNAL },
  NOT_FOUND: { code: 1005, text: 'not found', http: 404, grpc: GRPC.NOT_FOUND },
  OPERATION_FAILED: {
    code: 1009,
    text: 'operation failed',
    http: 409,
    grpc: GRPC.FAILED_PRECONDITION,
  },
  UNKNOWN_ROUTE: {
    code: 1010,
    text: 'unknown route or action',
    http: 404,
    grpc: GRPC.UNIMPLEMENTED,
  },
  TENANT_EXISTS: { code: 1011, text: 'tenant exists', http: 409, grpc: GRPC.ALREADY_EXISTS },
  RATE_LIMITED: { code: 1012, text: 'rate limited', http: 429, grpc: GRPC.RESOURCE_EXHAUSTED },
  PAYLOAD_TOO_LARGE: {
    code: 1013,
    text: 'payload too large',
    http: 413,
    grpc: GRPC.RESOURCE_EXHAUSTED,
    close: CloseCode.FRAME_TOO_LARGE,
  },
  TENANT_DISABLED: {
    code: 1014,
    text: 'tenant disabled',
    http: 403,
    grpc: GRPC.PERMISSION_DENIED,
    close: CloseCode.TENANT_DISABLED,
  },
  TOKEN_EXPIRED: {
    code: 1015,
    text: 'token expired',
    http: 401,
    grpc: GRPC.UNAUTHENTICATED,
    close: CloseCode.TOKEN_EXPIRED,
  },
  TOKEN_REVOKED: {
    code: 1016,
    text: 'token revoked',
    http: 401,
    grpc: GRPC.UNAUTHENTICATED,
    close: CloseCode.KICKED,
  },
} as const satisfies Record<string, ErrorKind>;

export type ErrorKindName = keyof typeof ErrorKinds;

export class PrimError extends Error {
  readonly kind: ErrorKindName;
  readonly code: number;
  readonly httpStatus: number;
  readonly grpcStatus: number;
  readonly closeCode: number | undefined;

  constructor(kind: ErrorKindName, message?: string) {
    const entry: ErrorKind = ErrorKinds[kind];
    super(message ?? entry.text);
    this.name = 'PrimError';
    this.kind = kind;
    this.code = entry.code;
    this.httpStatus = entry.http;
    this.grpcStatus = entry.grpc;
    this.closeCode = entry.close;
  }
}

export function isPrimError(err: unknown): err is PrimError {
  return err instanceof PrimError;
}

// Anything else that escapes to a boundary is a server error; its own text
// stays in the log and never reaches the client.
export function toPrimError(err: unknown): PrimError {
  return isPrimError(err) ? err : new PrimError('SERVER_ERROR');
}

export function errorForCode(code: number, message?: string): PrimError {
  const found = (Object.keys(ErrorKinds) as ErrorKindName[]).find(
    (name) => ErrorKinds[name].code === code,
  );
  return new PrimError(found ?? 'SERVER_ERROR', message);
}
