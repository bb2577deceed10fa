// The tenant and the users a bench run talks as: a tenant the caller names,
// or a throwaway one created with the admin key and disabled afterwards.
import { randomBytes } from 'node:crypto';
import { PrimError } from '../errors.js';
import { mapLimited } from './limited.js';
import type { BenchNode } from './rest.js';

export interface BenchCredentials {
  tenant?: string;
  authCode?: string;
  adminKey?: string;
}

export interface BenchTenant {
  account: string;
  authCode: string;
  // Created for this run, so the run retires it when it ends.
  throwaway: boolean;
}

// getToken calls in flight at once while users are set up.
const TOKEN_CONCURRENCY = 16;

export function basicAuth(account: string, authCode: string): string {
  return `Basic ${Buffer.from(`${account}:${authCode}`).toString('base64')}`;
}

// Either a tenant's own credentials, or the admin key to make a tenant with.
export function checkCredentials(credentials: BenchCredentials): void {
  const { tenant, authCode, adminKey } = credentials;
  if ((tenant === undefined) !== (authCode === undefined)) {
    throw new PrimError('BAD_PARAMETER', '--tenant and --auth-code go together; give both');
  }
  if (tenant === undefined && !adminKey) {
    throw new PrimError(
      'BAD_PARAMETER',
      'give --tenant and --auth-code, or --admin-key (or PRIM_ADMIN_KEY) ' +
        'to create a throwaway tenant',
    );
  }
}

export async function benchTenant(
  node: BenchNode,
  credentials: BenchCredentials,
): Promise<BenchTenant> {
  checkCredentials(credentials);
  const { tenant, authCode, adminKey } = credentials;
  if (tenant !== undefined && authCode !== undefined) {
    return { account: tenant, authCode, throwaway: false };
  }
  const account = `bench-${randomBytes(4).toString('hex')}`;
  const created = await node.call('POST', '/sysClient/createSysClient', `Bearer ${adminKey}`, {
    body: { account },
  });
  return { account, authCode: String(created.authCode), throwaway: true };
}

// One web token per user, in the order of `userIds`.
export function issueTokens(
  node: BenchNode,
  tenant: BenchTenant,
  userIds: readonly string[],
): Promise<string[]> {
  const auth = basicAuth(tenant.account, tenant.authCode);
  return mapLimited(userIds, TOKEN_CONCURRENCY, async (userId) => {
    const issued = await node.call('POST', '/sysClient/getToken', auth, {
      body: {
        userId,
        appPlatform: 'web',
      },
    });
    return String(issued.token);
  });
}

// A disabled tenant refuses its credentials and tokens; its messages stay
// in the store until `prim tenant delete` removes them.
export async function retireTenant(
  node: BenchNode,
  tenant: BenchTenant,
  adminKey: string,
): Promise<void> {
  await node.call('POST', '/sysClient/disable', `Bearer ${adminKey}`, {
    body: { account: tenant.account },
  });
}
