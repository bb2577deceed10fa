// A tenant on a test node, created over REST, with a way to mint its tokens.
import { expect } from 'vitest';
import { startTestNode, type TestNode } from './node.js';
import { call } from './rest.js';

export async function createTenant(node: TestNode, account: string) {
  const created = await call(node.url, 'POST', '/sysClient/createSysClient', {
    auth: node.adminAuth,
    body: { account },
  });
  expect(created.status).toBe(200);
  const authCode = created.data.authCode as string;
  const auth = node.tenantAuth(account, authCode);
  const token = async (userId: string, appPlatform = 'web', extra: object = {}) => {
    const issued = await call(node.url, 'POST', '/sysClient/getToken', {
      auth,
      body: { userId, appPlatform, ...extra },
    });
    expect(issued.status).toBe(200);
    return issued.data.token as string;
  };
  return { account, authCode, auth, token };
}

// A node (with PRIM_* overrides) that holds the tenant "acme".
export async function startWithTenant(env: Record<string, string> = {}) {
  const node = await startTestNode(env);
  return { node, ...(await createTenant(node, 'acme')) };
}
