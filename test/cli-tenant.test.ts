import { rmSync } from 'node:fs';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { onlyJson, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/node.js';

let dir: string;
const prim = (...args: string[]) => runCli(dir, args);

beforeEach(() => {
  // No prim.yaml: every default, with the store in ./.prim of the folder.
  dir = tempDir('prim-cli-tenant-');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('tenant create prints the account and its authCode once', async () => {
  const result = await prim('tenant', 'create', 'acme', '--phone', '+15550100');

  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^account {3}acme\nauthCode {2}[A-Za-z0-9_-]{43}\n$/);
  expect(result.stderr).toContain('the authCode is shown only now');
});

test('tenant create --json gives {account, authCode}', async () => {
  const result = await prim('tenant', 'create', 'acme', '--json');

  expect(result.code).toBe(0);
  expect(onlyJson(result)).toEqual({ account: 'acme', authCode: expect.stringMatching(/^.{43}$/) });
});

test('creating a tenant that exists fails with 1011', async () => {
  await prim('tenant', 'create', 'acme');

  const again = await prim('tenant', 'create', 'acme');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('error: tenant "acme" already exists');

  const json = await prim('tenant', 'create', 'acme', '--json');
  expect(json.code).toBe(1);
  expect(onlyJson(json)).toEqual({
    error: { code: 1011, kind: 'TENANT_EXISTS', message: 'tenant "acme" already exists' },
  });
});

test('an account that breaks the naming rule is refused with the rule', async () => {
  const result = await prim('tenant', 'create', 'Acme!');

  expect(result.code).toBe(1);
  expect(result.stderr).toContain('error: account "Acme!" is not allowed; use 2–64 lowercase');
});

test('tenant list shows a table of tenants and never their secrets', async () => {
  const acme = onlyJson(await prim('tenant', 'create', 'acme', '--json'));
  await prim('tenant', 'create', 'globex', '--phone', '+15550100');

  const result = await prim('tenant', 'list');
  expect(result.code).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^ACCOUNT +PHONE +STATUS +CREATED +SECRET ROTATED$/);
  expect(lines[1]).toMatch(/^acme +- +enabled +\d{4}-\d\d-\d\dT[\d:.]+Z +-$/);
  expect(lines[2]).toMatch(/^globex +\+15550100 +enabled /);
  expect(lines).toHaveLength(3);
  expect(result.stdout).not.toContain(acme.authCode);

  const json = await prim('tenant', 'list', '--json');
  const document = onlyJson(json);
  expect(document.total).toBe(2);
  expect(document.tenants.map((t: { account: string }) => t.account)).toEqual(['acme', 'globex']);
  expect(json.stdout).not.toContain(acme.authCode);
  expect(Object.keys(document.tenants[0]).sort()).toEqual(
    ['account', 'createdAt', 'disabled', 'phoneNum', 'secretRotatedAt'].sort(),
  );
});

test('tenant list with no tenants prints nothing and hints at create', async () => {
  const result = await prim('tenant', 'list');

  expect(result).toMatchObject({ code: 0, stdout: '' });
  expect(result.stderr).toContain('no tenants yet; create one with prim tenant create');
});

test('tenant show prints one tenant without secrets; an unknown one fails', async () => {
  const acme = onlyJson(await prim('tenant', 'create', 'acme', '--json', '--phone', '+1555'));

  const shown = await prim('tenant', 'show', 'acme');
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/^account +acme\nphone +\+1555\nstatus +enabled\ncreated +\S+Z\n/);
  expect(shown.stdout).not.toContain(acme.authCode);

  const json = onlyJson(await prim('tenant', 'show', 'acme', '--json'));
  expect(json).toMatchObject({ account: 'acme', phoneNum: '+1555', disabled: false });
  expect(json.secretRotatedAt).toBeNull();

  const unknown = await prim('tenant', 'show', 'nobody');
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('error: tenant "nobody" does not exist');
});

test('tenant rotate-secret prints a new authCode alone', async () => {
  const acme = onlyJson(await prim('tenant', 'create', 'acme', '--json'));

  const rotated = await prim('tenant', 'rotate-secret', 'acme');
  expect(rotated.code).toBe(0);
  expect(rotated.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  expect(rotated.stdout.trim()).not.toBe(acme.authCode);
  expect(rotated.stderr).toContain('still verify for 1h (tokens.rotationGrace)');

  const json = onlyJson(await prim('tenant', 'rotate-secret', 'acme', '--json'));
  expect(json).toEqual({ account: 'acme', authCode: expect.any(String) });
  expect(json.authCode).not.toBe(rotated.stdout.trim());

  const shown = onlyJson(await prim('tenant', 'show', 'acme', '--json'));
  expect(shown.secretRotatedAt).toEqual(expect.any(Number));
});

test('tenant disable and enable switch the tenant and print it', async () => {
  await prim('tenant', 'create', 'acme');

  const disabled = await prim('tenant', 'disable', 'acme');
  expect(disabled).toMatchObject({ code: 0, stdout: 'tenant acme disabled\n' });
  expect(onlyJson(await prim('tenant', 'show', 'acme', '--json')).disabled).toBe(true);

  const enabled = await prim('tenant', 'enable', 'acme', '--json');
  expect(enabled.code).toBe(0);
  expect(onlyJson(enabled)).toMatchObject({ account: 'acme', disabled: false });

  const unknown = await prim('tenant', 'disable', 'nobody');
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('tenant "nobody" does not exist');
});

test('tenant delete without a terminal needs --yes, a usage error otherwise', async () => {
  await prim('tenant', 'create', 'acme');

  const refused = await prim('tenant', 'delete', 'acme');
  expect(refused.code).toBe(2);
  expect(refused.stdout).toBe('');
  expect(refused.stderr).toContain('add --yes to confirm');
  expect((await prim('tenant', 'show', 'acme')).code).toBe(0);

  const deleted = await prim('tenant', 'delete', 'acme', '--yes', '--json');
  expect(deleted.code).toBe(0);
  expect(onlyJson(deleted)).toEqual({ account: 'acme', deleted: true });
  expect((await prim('tenant', 'show', 'acme')).code).toBe(1);

  const again = await prim('tenant', 'delete', 'acme', '--yes');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('tenant "acme" does not exist');
});

test('tenant commands use the store that --config names', async () => {
  await runCli(dir, ['init', '--yes', '--config', 'site/prim.yaml']);
  await prim('--config', 'site/prim.yaml', 'tenant', 'create', 'acme');

  const here = onlyJson(await prim('tenant', 'list', '--json'));
  const there = onlyJson(await prim('tenant', 'list', '--json', '--config', 'site/prim.yaml'));
  expect(here.total).toBe(0);
  expect(there.tenants.map((t: { account: string }) => t.account)).toEqual(['acme']);
});
