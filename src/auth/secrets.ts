// Random secrets and constant-time comparison.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

// 32 random bytes, URL-safe so that it can stand in a query parameter.
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newId(): string {
  return randomUUID();
}

// Hashing first makes both sides the same length, so that timingSafeEqual
// neither throws nor leaks the expected length.
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
