// Tenant lifecycle and lookup. Lookups are cached briefly: the CLI changes
// tenants in the store directly, and a running node must see that within
// 5 s (DESIGN: "a running node sees the change within 5 s").
import { PrimError } from '../errors.js';
import type { Store, Tenant } from '../store/store.js';
import { checkAccount, checkLabel, isAccount } from './ids.js';
import { newSecret, sameSecret } from './secrets.js';

const CACHE_MS = 2000;
const MAX_PHONE = 32;

// What may be shown of a tenant: never its secrets.
export interface TenantView {
  account: string;
  phoneNum: string | null;
  disabled: boolean;
  createdAt: number;
  secretRotatedAt: number | null;
}

export function viewTenant(tenant: Tenant): TenantView {
  return {
    account: tenant.account,
    phoneNum: tenant.phone ?? null,
    disabled: tenant.disabled,
    createdAt: tenant.createdAt,
    secretRotatedAt: tenant.secretRotatedAt ?? null,
  };
}

export interface TenantCredentials {
  account: string;
  authCode: string;
}

export class Tenants {
  private readonly cache = new Map<string, { tenant: Tenant; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(account: string, phone?: string): Promise<TenantCredentials> {
    checkAccount(account);
    checkLabel(phone, 'phoneNum', MAX_PHONE);
    const secret = newSecret();
    await this.store.createTenant({ account, phone, secret, createdAt: this.clock() });
    this.cache.delete(account);
    return { account, authCode: secret };
  }

  // Only tenants that exist are cached: names come from unauthenticated
  // requests and token headers, and caching every miss would let anyone
  // grow the cache without bound. Names that cannot be accounts are not
  // looked up at all.
  async get(account: string): Promise<Tenant | undefined> {
    if (!isAccount(account)) return undefined;
    const cached = this.cache.get(account);
    if (cached && this.clock() - cached.at < CACHE_MS) return cached.tenant;
    const tenant = await this.store.getTenant(account);
    if (tenant) this.cache.set(account, { tenant, at: this.clock() });
    else this.cache.delete(account);
    return tenant;
  }

  // Reads past the cache; for periodic checks of live sessions' tenants.
  async fresh(account: string): Promise<Tenant | undefined> {
    this.cache.delete(account);
    return this.get(account);
  }

  async require(account: string): Promise<Tenant> {
    const tenant = await this.get(checkAccount(account));
    if (!tenant) throw new PrimError('NOT_FOUND', `tenant "${account}" does not exist`);
    return tenant;
  }

  async list(offset: number, limit: number) {
    const { tenants, total } = await this.store.listTenants(offset, limit);
    return { tenants: tenants.map(viewTenant), total };
  }

  async rotateSecret(account: string): Promise<TenantCredentials> {
    const tenant = await this.require(account);
    const secret = newSecret();
    await this.store.updateTenant(account, {
      secret,
      previousSecret: tenant.secret,
      secretRotatedAt: this.clock(),
    });
    this.cache.delete(account);
    return { account, authCode: secret };
  }

  async setDisabled(account: string, disabled: boolean): Promise<TenantView> {
    await this.require(account);
    const tenant = await this.store.updateTenant(account, { disabled });
    this.cache.delete(account);
    return viewTenant(tenant!);
  }

  async delete(account: string): Promise<void> {
    await this.require(account);
    await this.store.deleteTenant(account);
    this.cache.delete(account);
  }

  // A tenant backend's credentials. Unknown tenant and wrong secret get the
  // same answer, so that the reply does not reveal which tenants exist.
  async authenticate(account: string, authCode: string): Promise<Tenant> {
    const tenant = await this.get(account);
    if (!tenant || !sameSecret(authCode, tenant.secret)) {
      throw new PrimError('UNAUTHORIZED', 'tenant account or authCode is wrong');
    }
    if (tenant.disabled) {
      throw new PrimError('TENANT_DISABLED', `tenant "${account}" is disabled`);
    }
    return tenant;
  }
}
