// Connection tokens: HS256 JWTs signed with the tenant secret, kid = tenant
// account. Tenant backends may mint them with any JWT library; prim checks
// every refusal rule of the design here and nowhere else.
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config/schema.js';
import { formatDuration } from '../config/values.js';
import { PrimError } from '../errors.js';
import type { Store, Tenant } from '../store/store.js';
import { checkLabel, checkPlatform, checkTokenUserId } from './ids.js';
import { newId } from './secrets.js';
import type { Tenants } from './tenants.js';

export interface TokenClaims {
  tenant: string;
  userId: string;
  platform: string;
  nickname: string;
  avatar: string;
  issuedAt: number;
  expiresAt: number;
  tokenId: string;
}

export interface IssueRequest {
  userId: string;
  platform: string;
  ttlMs: number;
  nickname?: string;
  avatar?: string;
}

export interface TokenPolicy {
  platforms: string[];
  maxTtl: number;
  rotationGrace: number;
}

export function tokenPolicyOf(config: Config): TokenPolicy {
  return {
    platforms: config.platforms,
    maxTtl: config.tokens.maxTtl,
    rotationGrace: config.tokens.rotationGrace,
  };
}

const MAX_NICKNAME = 64;
const MAX_AVATAR = 1024;

const encoder = new TextEncoder();
const BAD_SIGNATURE = 'the token signature does not verify';

export async function issueToken(
  tenant: Tenant,
  request: IssueRequest,
  policy: TokenPolicy,
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const userId = checkTokenUserId(request.userId);
  const nickname = checkLabel(request.nickname, 'nickname', MAX_NICKNAME);
  const avatar = checkLabel(request.avatar, 'avatar', MAX_AVATAR);
  const platform = checkPlatform(request.platform, policy.platforms);
  // exp counts whole seconds, rounded down so that a token never lives
  // longer than asked; under a second that could be a token already expired.
  if (request.ttlMs < 1000 || request.ttlMs > policy.maxTtl) {
    throw new PrimError(
      'BAD_PARAMETER',
      `ttl of ${formatDuration(request.ttlMs)} is not allowed; it must be ` +
        `at least 1s and at most ${formatDuration(policy.maxTtl)} (config key tokens.maxTtl)`,
    );
  }
  const expiresAt = Math.floor((now + request.ttlMs) / 1000);
  const claims: Record<string, unknown> = {
    sub: userId,
    plt: platform,
    // Fractional seconds (allowed for NumericDate): revocation compares
    // against milliseconds, and a token issued just after a revocation
    // must not be caught by it.
    iat: now / 1000,
    exp: expiresAt,
    jti: newId(),
  };
  if (nickname) claims.nick = nickname;
  if (avatar) claims.avt = avatar;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: tenant.account })
    .sign(encoder.encode(tenant.secret));
  return { token, expiresAt: expiresAt * 1000 };
}

export async function verifyToken(
  token: unknown,
  tenants: Tenants,
  store: Store,
  policy: TokenPolicy,
  now = Date.now(),
): Promise<TokenClaims> {
  if (typeof token !== 'string' || token.length === 0) {
    throw new PrimError('UNAUTHORIZED', 'a connection token is required');
  }
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new PrimError('UNAUTHORIZED', 'the token is not a JWT');
  }
  // A token that names an unknown tenant is refused like a bad signature,
  // and a tenant is said to be disabled only to a holder of a genuine
  // token, so that forged tokens learn nothing about which tenants exist.
  const tenant = typeof kid === 'string' ? await tenants.get(kid) : undefined;
  if (!tenant) throw new PrimError('UNAUTHORIZED', BAD_SIGNATURE);
  const payload = await verifySignature(token, tenant, policy, now);
  if (tenant.disabled) {
    throw new PrimError('TENANT_DISABLED', `tenant "${tenant.account}" is disabled`);
  }

  let userId: string;
  let platform: string;
  try {
    userId = checkTokenUserId(payload.sub, 'sub');
    platform = checkPlatform(payload.plt, policy.platforms);
  } catch (err) {
    throw new PrimError(
      'UNAUTHORIZED',
      `the token's claims are refused: ${(err as Error).message}`,
    );
  }
  if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') {
    throw new PrimError('UNAUTHORIZED', 'the token must carry iat and exp');
  }

  const revokedAt = await store.revokedAt(tenant.account, userId, platform);
  if (revokedAt !== undefined && payload.iat * 1000 < revokedAt) {
    throw new PrimError('TOKEN_REVOKED', 'the token was revoked; ask for a new one');
  }
  return {
    tenant: tenant.account,
    userId,
    platform,
    nickname: typeof payload.nick === 'string' ? payload.nick : '',
    avatar: typeof payload.avt === 'string' ? payload.avt : '',
    issuedAt: payload.iat * 1000,
    expiresAt: payload.exp * 1000,
    tokenId: typeof payload.jti === 'string' ? payload.jti : '',
  };
}

type Payload = Record<string, unknown> & { iat?: number; exp?: number };

// The current secret, else the previous one while the rotation grace lasts.
async function verifySignature(
  token: string,
  tenant: Tenant,
  policy: TokenPolicy,
  now: number,
): Promise<Payload> {
  const secrets = [tenant.secret];
  if (
    tenant.previousSecret &&
    tenant.secretRotatedAt !== undefined &&
    now - tenant.secretRotatedAt <= policy.rotationGrace
  ) {
    secrets.push(tenant.previousSecret);
  }
  for (const secret of secrets) {
    try {
      const { payload } = await jwtVerify(token, encoder.encode(secret), {
        algorithms: ['HS256'],
        currentDate: new Date(now),
      });
      return payload as Payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new PrimError('TOKEN_EXPIRED', 'the token has expired; ask for a new one');
      }
      if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) {
        throw new PrimError('UNAUTHORIZED', 'the token is malformed or its claims are invalid');
      }
    }
  }
  throw new PrimError('UNAUTHORIZED', BAD_SIGNATURE);
}
