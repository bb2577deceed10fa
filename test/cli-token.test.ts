import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { onlyJson, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/node.js';

let dir: string;
const prim = (...args: string[]) => runCli(dir, args);
const HOUR = 3600_000;

beforeEach(async () => {
  dir = tempDir('prim-cli-token-');
  await prim('tenant', 'create', 'acme');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(yaml: string): void {
  writeFileSync(path.join(dir, 'prim.yaml'), yaml);
}

test('token issue prints the token alone, for $(…)', async () => {
  const result = await prim('token', 'issue', '--tenant', 'acme', '--user', 'alice');

  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  const token = result.stdout.trim();
  expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: 'acme' });
  expect(decodeJwt(token)).toMatchObject({ sub: 'alice', plt: 'web' });
  expect(result.stderr).toContain('(in 12h)');
});

test('token issue --json gives {token, expiresAt} with the default ttl', async () => {
  const before = Date.now();
  const result = await prim('token', 'issue', '--tenant', 'acme', '--user', 'alice', '--json');

  expect(result.code).toBe(0);
  const issued = onlyJson(result);
  expect(Object.keys(issued).sort()).toEqual(['expiresAt', 'token']);
  expect(issued.expiresAt).toBeGreaterThanOrEqual(before + 12 * HOUR - 1000);
  expect(issued.expiresAt).toBeLessThanOrEqual(Date.now() + 12 * HOUR);
});

test('token issue takes platform, ttl, nickname and avatar', async () => {
  const before = Date.now();
  const result = await prim(
    'token',
    'issue',
    '--tenant',
    'acme',
    '--user',
    'bob',
    '--platform',
    'iOS',
    '--ttl',
    '90s',
    '--nickname',
    'Bob',
    '--avatar',
    'https://example.test/bob.png',
    '--json',
  );

  expect(result.code).toBe(0);
  const { token, expiresAt } = onlyJson(result);
  expect(decodeJwt(token)).toMatchObject({
    sub: 'bob',
    plt: 'ios',
    nick: 'Bob',
    avt: 'https://example.test/bob.png',
  });
  expect(expiresAt).toBeGreaterThanOrEqual(before + 89_000);
  expect(expiresAt).toBeLessThanOrEqual(Date.now() + 90_000);
});

test('the token policy comes from the config', async () => {
  writeConfig('platforms: [web, kiosk]\ntokens:\n  defaultTtl: 1h\n  maxTtl: 2h\n');

  const kiosk = await prim(
    'token',
    'issue',
    '--tenant',
    'acme',
    '--user',
    'k1',
    '--platform',
    'kiosk',
    '--json',
  );
  expect(kiosk.code).toBe(0);
  expect(onlyJson(kiosk).expiresAt).toBeLessThanOrEqual(Date.now() + HOUR);

  const tooLong = await prim('token', 'issue', '--tenant', 'acme', '--user', 'k1', '--ttl', '3h');
  expect(tooLong.code).toBe(1);
  expect(tooLong.stderr).toContain('at most 2h (config key tokens.maxTtl)');

  const ios = await prim('token', 'issue', '--tenant', 'acme', '--user', 'k1', '--platform', 'ios');
  expect(ios.code).toBe(1);
  expect(ios.stderr).toContain('platform "ios" is not allowed; use one of web, kiosk');
});

test('a bad flag is a usage error, an unknown tenant a failure', async () => {
  const badTtl = await prim('token', 'issue', '--tenant', 'acme', '--user', 'a', '--ttl', 'soon');
  expect(badTtl.code).toBe(2);
  expect(badTtl.stderr).toContain('error: --ttl: "soon" is not a duration');

  const noUser = await prim('token', 'issue', '--tenant', 'acme');
  expect(noUser.code).toBe(2);
  expect(noUser.stderr).toContain("error: required option '--user <userId>' not specified");

  const unknown = await prim('token', 'issue', '--tenant', 'nobody', '--user', 'a', '--json');
  expect(unknown.code).toBe(1);
  expect(onlyJson(unknown).error).toMatchObject({ code: 1005, kind: 'NOT_FOUND' });
});

test('token issue refuses a disabled tenant and names the way back', async () => {
  await prim('tenant', 'disable', 'acme');

  const result = await prim('token', 'issue', '--tenant', 'acme', '--user', 'a');

  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain('tenant "acme" is disabled');
  expect(result.stderr).toContain('prim tenant enable acme');
});

test('token verify prints the checked claims', async () => {
  const issued = await prim(
    'token',
    'issue',
    '--tenant',
    'acme',
    '--user',
    'alice',
    '--nickname',
    'Al',
  );
  const token = issued.stdout.trim();

  const result = await prim('token', 'verify', token);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^tenant +acme\nuserId +alice\nplatform +web\nnickname +Al\n/);

  const json = onlyJson(await prim('token', 'verify', token, '--json'));
  expect(json).toEqual({
    tenant: 'acme',
    userId: 'alice',
    platform: 'web',
    nickname: 'Al',
    avatar: '',
    issuedAt: expect.any(Number),
    expiresAt: expect.any(Number),
    tokenId: expect.stringMatching(/^[0-9a-f-]{36}$/),
  });
  expect(json.expiresAt - json.issuedAt).toBeGreaterThan(12 * HOUR - 1000);
});

test('token verify refuses what a node refuses, with the code', async () => {
  const garbage = await prim('token', 'verify', 'not-a-token');
  expect(garbage.code).toBe(1);
  expect(garbage.stdout).toBe('');
  expect(garbage.stderr).toContain('error: token refused: the token is not a JWT (code 1003)');

  // Signed as a tenant backend may sign its own, with an exp in the past.
  const rotated = onlyJson(await prim('tenant', 'rotate-secret', 'acme', '--json'));
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({ sub: 'a', plt: 'web', iat: now - 60, exp: now - 30 })
    .setProtectedHeader({ alg: 'HS256', kid: 'acme' })
    .sign(new TextEncoder().encode(rotated.authCode));
  const refused = await prim('token', 'verify', expired, '--json');
  expect(refused.code).toBe(1);
  expect(onlyJson(refused)).toEqual({
    error: {
      code: 1015,
      kind: 'TOKEN_EXPIRED',
      message: 'token refused: the token has expired; ask for a new one (code 1015)',
    },
  });
});

test('a token of a disabled tenant is refused with 1014', async () => {
  const token = (await prim('token', 'issue', '--tenant', 'acme', '--user', 'a')).stdout.trim();
  await prim('tenant', 'disable', 'acme');

  const result = await prim('token', 'verify', token, '--json');

  expect(result.code).toBe(1);
  expect(onlyJson(result).error).toMatchObject({ code: 1014, kind: 'TENANT_DISABLED' });
});

test('after rotate-secret old tokens verify only during tokens.rotationGrace', async () => {
  const token = (await prim('token', 'issue', '--tenant', 'acme', '--user', 'a')).stdout.trim();
  await prim('tenant', 'rotate-secret', 'acme');

  expect((await prim('token', 'verify', token)).code).toBe(0);

  writeConfig('tokens:\n  rotationGrace: 0s\n');
  const refused = await prim('token', 'verify', token);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('the token signature does not verify (code 1003)');
});
