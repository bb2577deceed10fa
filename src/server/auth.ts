// Who is calling a REST route: the operator (admin key), a tenant backend
// (Basic auth, or prim's sysAccount + authCode parameters) or an end user
// (a connection token). Each is a preValidation hook for the routes.
import type { FastifyRequest } from 'fastify';
import { sameSecret } from '../auth/secrets.js';
import { PrimError } from '../errors.js';
import type { NodeContext } from './context.js';
import { paramsOf } from './params.js';

// The credentials of an Authorization header in `scheme`. Scheme names are
// case-insensitive (RFC 9110, section 11.1): "bearer" is "Bearer".
function authorization(request: FastifyRequest, scheme: string): string | undefined {
  const match = /^(\S+)\s+(.*)$/s.exec(request.headers.authorization ?? '');
  return match && match[1].toLowerCase() === scheme ? match[2].trim() : undefined;
}

function bearer(request: FastifyRequest): string | undefined {
  return authorization(request, 'bearer');
}

function basic(request: FastifyRequest): { account: string; authCode: string } | undefined {
  const encoded = authorization(request, 'basic');
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { account: decoded.slice(0, colon), authCode: decoded.slice(colon + 1) };
}

function tenantCredentials(request: FastifyRequest) {
  const fromHeader = basic(request);
  if (fromHeader) return fromHeader;
  const params = paramsOf(request);
  if (typeof params.sysAccount === 'string' && typeof params.authCode === 'string') {
    return { account: params.sysAccount, authCode: params.authCode };
  }
  return undefined;
}

export function requireAdmin(context: NodeContext) {
  return async (request: FastifyRequest) => {
    const key = bearer(request);
    if (!key || !sameSecret(key, context.adminKey)) {
      throw new PrimError('UNAUTHORIZED', 'this route needs the admin key as a Bearer token');
    }
  };
}

export function requireTenant(context: NodeContext) {
  return async (request: FastifyRequest) => {
    const credentials = tenantCredentials(request);
    if (!credentials) {
      throw new PrimError(
        'UNAUTHORIZED',
        'this route needs tenant credentials: Basic auth (account:authCode) ' +
          'or sysAccount and authCode',
      );
    }
    request.tenant = await context.tenants.authenticate(credentials.account, credentials.authCode);
  };
}

// sendMsg takes a tenant backend or an end user; the user is then the sender.
export function requireTenantOrUser(context: NodeContext) {
  const asTenant = requireTenant(context);
  return async (request: FastifyRequest) => {
    const token = bearer(request) ?? (paramsOf(request).token as string | undefined);
    if (token !== undefined && !basic(request)) {
      request.claims = await context.gateway.verify(token);
      return;
    }
    await asTenant(request);
  };
}

// /system/state answers the operator about the whole node, a tenant about itself.
export function requireAdminOrTenant(context: NodeContext) {
  const asTenant = requireTenant(context);
  return async (request: FastifyRequest) => {
    const key = bearer(request);
    if (key && sameSecret(key, context.adminKey)) return;
    await asTenant(request);
  };
}
