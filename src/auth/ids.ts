// Validation of the identifiers that cross prim's boundaries.
import { PrimError } from '../errors.js';

const ACCOUNT = /^[a-z0-9][a-z0-9_-]{1,63}$/;
// C0 and C1 control characters, DEL included.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// A surrogate half without its other half: not Unicode, and stored text
// would come back changed.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const MAX_USER_ID_LENGTH = 128;

// The sender of what a tenant backend sends without a senderId. Its inbox
// holds every such message, so no connection token may be issued for it.
export const SYSTEM_USER = 'system';

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

export function isAccount(account: unknown): account is string {
  return typeof account === 'string' && ACCOUNT.test(account);
}

export function checkAccount(account: unknown): string {
  if (!isAccount(account)) {
    throw new PrimError(
      'BAD_PARAMETER',
      `account ${JSON.stringify(account)} is not allowed; use 2–64 lowercase ` +
        'letters, digits, - or _, starting with a letter or digit',
    );
  }
  return account;
}

export function checkUserId(userId: unknown, name = 'userId'): string {
  if (userId === undefined || userId === null) {
    throw new PrimError('BAD_USER_ID', `${name} is required`);
  }
  if (typeof userId === 'number') userId = String(userId);
  if (
    typeof userId !== 'string' ||
    userId.length === 0 ||
    userId.length > MAX_USER_ID_LENGTH ||
    CONTROL.test(userId) ||
    !isWellFormed(userId)
  ) {
    const shown =
      typeof userId === 'string' && userId.length > 40
        ? `a ${userId.length}-character string`
        : JSON.stringify(userId);
    throw new PrimError(
      'BAD_USER_ID',
      `${name} ${shown} is not allowed; use 1–${MAX_USER_ID_LENGTH} characters ` +
        'without control characters',
    );
  }
  return userId;
}

// A user a connection token may be issued for: any user but the system one.
export function checkTokenUserId(userId: unknown, name = 'userId'): string {
  const checked = checkUserId(userId, name);
  if (checked === SYSTEM_USER) {
    throw new PrimError(
      'BAD_USER_ID',
      `${name} "${SYSTEM_USER}" is reserved for what the tenant's backend sends; ` +
        'no token is issued or accepted for it',
    );
  }
  return checked;
}

// Optional display text of a token (nickname, avatar URL), bounded so that
// a token stays small enough for a URL.
export function checkLabel(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > max || !isWellFormed(value)) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name} is not allowed; use text of at most ${max} characters`,
    );
  }
  return value;
}

// `all`, or nothing at all, means every platform: undefined is returned.
// Empty counts as nothing, as a form sends a field left blank.
export function checkPlatformOrAll(platform: unknown, allowed: string[]): string | undefined {
  if (platform === undefined || platform === '') return undefined;
  if (typeof platform === 'string' && platform.toLowerCase() === 'all') return undefined;
  return checkPlatform(platform, allowed);
}

export function checkPlatform(platform: unknown, allowed: string[]): string {
  const value = typeof platform === 'string' ? platform.toLowerCase() : '';
  if (!allowed.includes(value)) {
    throw new PrimError(
      'BAD_PARAMETER',
      `platform ${JSON.stringify(platform)} is not allowed; use one of ` +
        `${allowed.join(', ')} (config key platforms)`,
    );
  }
  return value;
}
