import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { KEYS } from '../src/config/schema.js';
import { onlyJson, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/node.js';

let dir: string;

beforeEach(() => {
  dir = tempDir('prim-cli-init-');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function flatKeys(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    child !== null && typeof child === 'object' && !Array.isArray(child)
      ? flatKeys(child as Record<string, unknown>, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

const configIn = (folder: string) =>
  loadConfig({ configPath: path.join(folder, 'prim.yaml'), env: {} });

test('init --yes writes prim.yaml with a fresh admin key and prints its path', async () => {
  const result = await runCli(dir, ['init', '--yes', '--http-port', '8181']);

  const file = path.join(dir, 'prim.yaml');
  expect(result.code).toBe(0);
  expect(result.stdout).toBe(`${file}\n`);
  expect(result.stderr).toContain(`wrote ${file}`);
  expect(result.stderr).toContain('next steps:');
  expect(result.stderr).toContain('prim serve');
  // The file holds the admin key, so only its owner may read it.
  expect(statSync(file).mode & 0o777).toBe(0o600);

  const loaded = configIn(dir);
  expect(loaded.warnings).toEqual([]);
  expect(loaded.config.http.port).toBe(8181);
  expect(loaded.config.adminKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(loaded.config.redis.url).toBeUndefined();
});

test('the written file lists every config key, each with its default', async () => {
  await runCli(dir, ['init', '--yes']);
  const text = readFileSync(path.join(dir, 'prim.yaml'), 'utf8');

  // Keys that keep their default are commented out (`# nodeId: …`).
  const uncommented = text.replace(/^(\s*)# (\s*[A-Za-z]+:)/gm, '$1$2');
  expect(flatKeys(parseYaml(uncommented)).sort()).toEqual(KEYS.map((spec) => spec.key).sort());

  const written = configIn(dir).config;
  const empty = tempDir('prim-cli-init-empty-');
  const defaults = loadConfig({ cwd: empty, env: {} }).config;
  rmSync(empty, { recursive: true });
  expect({ ...written, adminKey: undefined, dataDir: '', store: {} }).toEqual({
    ...defaults,
    dataDir: '',
    store: {},
  });
});

test('init --json prints one document with the path and the admin key', async () => {
  const result = await runCli(dir, ['init', '--json']);

  expect(result.code).toBe(0);
  const document = onlyJson(result);
  expect(document).toEqual({ config: path.join(dir, 'prim.yaml'), adminKey: expect.any(String) });
  expect(configIn(dir).config.adminKey).toBe(document.adminKey);
});

test('init refuses to overwrite an existing file unless --force is given', async () => {
  const first = await runCli(dir, ['init', '--yes', '--json']);
  const before = readFileSync(path.join(dir, 'prim.yaml'), 'utf8');

  const refused = await runCli(dir, ['init', '--yes']);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toBe('');
  expect(refused.stderr).toMatch(/^error: .*prim\.yaml already exists; add --force/m);
  expect(readFileSync(path.join(dir, 'prim.yaml'), 'utf8')).toBe(before);

  const forced = await runCli(dir, ['init', '--yes', '--force', '--json']);
  expect(forced.code).toBe(0);
  expect(onlyJson(forced).adminKey).not.toBe(onlyJson(first).adminKey);
});

test('init writes to the --config path, creating its folder', async () => {
  const result = await runCli(dir, ['init', '--yes', '--config', 'etc/prim/node.yaml']);

  const file = path.join(dir, 'etc/prim/node.yaml');
  expect(result.code).toBe(0);
  expect(result.stdout).toBe(`${file}\n`);
  expect(result.stderr).toContain('prim serve --config etc/prim/node.yaml');
  expect(loadConfig({ configPath: file, env: {} }).config.adminKey).toBeDefined();
});

test('init writes the store and Redis URLs, with a cluster secret for Redis', async () => {
  const result = await runCli(dir, [
    'init',
    '--yes',
    '--store-url',
    'mongodb://127.0.0.1:27017/prim',
    '--redis-url',
    'redis://127.0.0.1:6379',
  ]);

  expect(result.code).toBe(0);
  const { config } = configIn(dir);
  expect(config.store.url).toBe('mongodb://127.0.0.1:27017/prim');
  expect(config.redis.url).toBe('redis://127.0.0.1:6379');
  // Cluster mode refuses to start without one.
  expect(config.cluster.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test.each([
  [
    ['--http-port', '70000'],
    /--http-port: "70000" is not allowed; use a whole number from 0 to 65535/,
  ],
  [['--http-port', 'http'], /--http-port: "http" is not allowed/],
  [['--store-url', 'postgres://db'], /--store-url: "postgres:\/\/db" is not allowed/],
  [['--redis-url', 'localhost:6379'], /--redis-url: "localhost:6379" is not allowed/],
])('init %j is a usage error that names the flag', async (flags, message) => {
  const result = await runCli(dir, ['init', '--yes', ...flags]);

  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(message);
  expect(() => statSync(path.join(dir, 'prim.yaml'))).toThrow();
});

test('a refused URL flag is shown without its password', async () => {
  const redis = await runCli(dir, ['init', '--yes', '--redis-url', 'http://u:hunter2@127.0.0.1:1']);
  expect(redis.code).toBe(2);
  expect(redis.stderr).toContain(
    'error: --redis-url: "http://[Redacted]@127.0.0.1:1" is not allowed; ' +
      'use a URL starting with redis:// or rediss://',
  );

  const store = await runCli(dir, ['init', '--yes', '--store-url', 'mongo://u:hunter2@db/prim']);
  expect(store.code).toBe(2);
  expect(store.stderr).toContain('error: --store-url: "mongo://[Redacted]@db/prim" is not allowed');

  const bare = await runCli(dir, ['init', '--yes', '--redis-url', 'u:hunter2@127.0.0.1:1']);
  expect(bare.code).toBe(2);
  expect(bare.stderr).toContain('error: --redis-url: the value given is not allowed');

  for (const result of [redis, store, bare]) expect(result.stderr).not.toContain('hunter2');
});

test('usage errors exit with 2 and say what was wrong', async () => {
  const unknownCommand = await runCli(dir, ['frobnicate']);
  expect(unknownCommand.code).toBe(2);
  expect(unknownCommand.stderr).toContain("error: unknown command 'frobnicate'");

  const unknownOption = await runCli(dir, ['init', '--colour']);
  expect(unknownOption.code).toBe(2);
  expect(unknownOption.stderr).toContain("error: unknown option '--colour'");

  const missingArgument = await runCli(dir, ['tenant', 'show']);
  expect(missingArgument.code).toBe(2);
  expect(missingArgument.stderr).toContain("missing required argument 'account'");

  const noSubcommand = await runCli(dir, ['tenant']);
  expect(noSubcommand.code).toBe(2);
  expect(noSubcommand.stderr).toContain('Usage: prim tenant');
});

test('a usage error with --json is one JSON document on stdout', async () => {
  const result = await runCli(dir, ['tenant', 'list', '--json', '--bogus']);

  expect(result.code).toBe(2);
  expect(onlyJson(result)).toEqual({
    error: { code: 1001, kind: 'USAGE', message: "unknown option '--bogus'" },
  });
});

test('--version prints the version and --help the usage, both with exit 0', async () => {
  const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
  const version = await runCli(dir, ['--version']);
  expect(version).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });

  const help = await runCli(dir, ['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Usage: prim');
  expect(help.stdout).toContain('Exit status: 0 success, 1 failure, 2 usage error.');

  const helpCommand = await runCli(dir, ['help', 'tenant']);
  expect(helpCommand.code).toBe(0);
  expect(helpCommand.stdout).toContain('Usage: prim tenant');
});

test.each([
  'init',
  'serve',
  ...['create', 'list', 'show', 'rotate-secret', 'disable', 'enable', 'delete'].map(
    (name) => `tenant ${name}`,
  ),
  'token issue',
  'token verify',
  'user list',
  'user kick',
  'msg send',
  'msg history',
])('prim %s --help shows examples and the global --config', async (command) => {
  const result = await runCli(dir, [...command.split(' '), '--help']);

  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`Usage: prim ${command}`);
  expect(result.stdout).toContain('Examples:\n  $ prim ');
  expect(result.stdout).toContain('--config <path>');
});

test('a config file that does not exist is a failure that names it', async () => {
  const result = await runCli(dir, ['--config', 'missing.yaml', 'tenant', 'list']);

  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    `error: config file ${path.join(dir, 'missing.yaml')} does not exist`,
  );
});

test('an invalid config value stops the command with the key and the value', async () => {
  writeFileSync(path.join(dir, 'prim.yaml'), 'tokens:\n  maxTtl: forever\n');

  const result = await runCli(dir, ['tenant', 'list', '--json']);

  expect(result.code).toBe(1);
  const { error } = onlyJson(result);
  expect(error.code).toBe(1001);
  expect(error.message).toContain('tokens.maxTtl: "forever" is not a duration');
});

test('unknown config keys and PRIM_ variables are warned about on stderr', async () => {
  mkdirSync(path.join(dir, 'data'));
  writeFileSync(path.join(dir, 'prim.yaml'), 'dataDir: ./data\nhttp:\n  prot: 9000\n');

  const result = await runCli(dir, ['tenant', 'list', '--json'], { PRIM_HTTP_PROT: '1' });

  expect(result.code).toBe(0);
  expect(onlyJson(result)).toEqual({ tenants: [], total: 0 });
  expect(result.stderr).toContain('warning: unknown key "http.prot"');
  expect(result.stderr).toContain('warning: unknown environment variable PRIM_HTTP_PROT');
});
