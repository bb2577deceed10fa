// The cluster secret, compared in constant time: digests of equal length
// keep timingSafeEqual from leaking the secret's length.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function secretMatcher(secret: string): (offered: unknown) => boolean {
  const expected = digest(secret);
  return (offered) => typeof offered === 'string' && timingSafeEqual(digest(offered), expected);
}
