import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { envName } from '../src/config/schema.js';
import { parseBytes, parseDuration } from '../src/config/values.js';
import { tempDir } from './helpers/node.js';

const dirs: string[] = [];
function folder(): string {
  const dir = tempDir('prim-config-');
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('configuration', () => {
  test('no file at all means every default', () => {
    const cwd = folder();
    const { config, file, warnings } = loadConfig({ cwd, env: {} });
    expect(file).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8093 });
    expect(config.dataDir).toBe(path.join(cwd, '.prim'));
    expect(config.store.url).toBe(`sqlite:${path.join(cwd, '.prim', 'prim.db')}`);
    expect(config.ws.heartbeatTimeout).toBe(90_000);
    expect(config.ws.sessionPolicy).toBe('replace');
    expect(config.tokens).toEqual({
      defaultTtl: 12 * 3600_000,
      maxTtl: 30 * 86_400_000,
      rotationGrace: 3600_000,
    });
    expect(config.limits.maxFrameBytes).toBe(65536);
    expect(config.limits.maxBufferedBytes).toBe(4 * 1024 * 1024);
    expect(config.platforms).toEqual(['web', 'android', 'ios', 'desktop']);
    expect(config.redis.url).toBeUndefined();
  });

  test('prim.yaml values are read and dataDir is relative to its folder', () => {
    const cwd = folder();
    const sub = path.join(cwd, 'etc');
    mkdirSync(sub);
    writeFileSync(
      path.join(sub, 'prim.yaml'),
      'dataDir: ./data\nhttp:\n  port: 9100\nws:\n  heartbeatTimeout: 30s\n',
    );
    const { config, file } = loadConfig({ cwd, configPath: 'etc/prim.yaml', env: {} });
    expect(file).toBe(path.join(sub, 'prim.yaml'));
    expect(config.http.port).toBe(9100);
    expect(config.ws.heartbeatTimeout).toBe(30_000);
    expect(config.dataDir).toBe(path.join(sub, 'data'));
  });

  test('PRIM_* variables override the file', () => {
    const cwd = folder();
    writeFileSync(path.join(cwd, 'prim.yaml'), 'http:\n  port: 9100\n');
    const { config } = loadConfig({
      cwd,
      env: { PRIM_HTTP_PORT: '9200', PRIM_WS_SESSION_POLICY: 'multi', PRIM_PLATFORMS: 'web,tv' },
    });
    expect(config.http.port).toBe(9200);
    expect(config.ws.sessionPolicy).toBe('multi');
    expect(config.platforms).toEqual(['web', 'tv']);
  });

  test('PRIM_CONFIG names the file', () => {
    const cwd = folder();
    writeFileSync(path.join(cwd, 'other.yaml'), 'http:\n  port: 9300\n');
    const { config } = loadConfig({ cwd, env: { PRIM_CONFIG: 'other.yaml' } });
    expect(config.http.port).toBe(9300);
  });

  test('environment names follow the key path in upper snake case', () => {
    expect(envName('http.port')).toBe('PRIM_HTTP_PORT');
    expect(envName('ws.heartbeatTimeout')).toBe('PRIM_WS_HEARTBEAT_TIMEOUT');
    expect(envName('dataDir')).toBe('PRIM_DATA_DIR');
  });

  test('unknown keys and variables are warned about by name', () => {
    const cwd = folder();
    writeFileSync(path.join(cwd, 'prim.yaml'), 'http:\n  prot: 1\nfoo: bar\n');
    const { warnings } = loadConfig({ cwd, env: { PRIM_HTTP_PROT: '1', PRIM_TEST_X: '1' } });
    expect(warnings).toEqual([
      `unknown key "http.prot" in ${path.join(cwd, 'prim.yaml')} is ignored`,
      `unknown key "foo" in ${path.join(cwd, 'prim.yaml')} is ignored`,
      'unknown environment variable PRIM_HTTP_PROT is ignored',
    ]);
  });

  test('an invalid value names the key, the value and what is allowed', () => {
    const cwd = folder();
    writeFileSync(path.join(cwd, 'prim.yaml'), 'http:\n  port: 70000\n');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(
      'http.port: "70000" is not allowed; use a whole number from 0 to 65535',
    );
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_WS_SESSION_POLICY: 'single' } })).toThrow(
      'PRIM_WS_SESSION_POLICY: "single" is not allowed; use one of replace, multi',
    );
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_WS_HEARTBEAT_TIMEOUT: 'soon' } })).toThrow(
      'PRIM_WS_HEARTBEAT_TIMEOUT: "soon" is not a duration',
    );
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_STORE_URL: 'postgres://x' } })).toThrow(
      'PRIM_STORE_URL: "postgres://x" is not allowed; ' +
        'use a URL starting with sqlite: or mongodb://',
    );
  });

  test('values that would break the node are refused', () => {
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_WS_HEARTBEAT_TIMEOUT: '0' } })).toThrow(
      'PRIM_WS_HEARTBEAT_TIMEOUT: "0" is not allowed; use a duration from 100ms to 1h',
    );
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_LIMITS_MAX_FRAME_BYTES: '0' } })).toThrow(
      'PRIM_LIMITS_MAX_FRAME_BYTES: "0" is not allowed; use a size from 1KiB to 64MiB',
    );
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_TOKENS_MAX_TTL: '0s' } })).toThrow(
      'PRIM_TOKENS_MAX_TTL: "0s" is not allowed; use a duration from 1s to 365d',
    );
  });

  test('a file that is not YAML is refused with its name', () => {
    const cwd = folder();
    writeFileSync(path.join(cwd, 'prim.yaml'), 'http: [unclosed\n');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/prim\.yaml is not valid YAML/);
  });

  test('a --config file that does not exist is an error', () => {
    expect(() => loadConfig({ cwd: folder(), configPath: 'missing.yaml', env: {} })).toThrow(
      /missing\.yaml does not exist/,
    );
  });

  test('cluster mode requires cluster.secret', () => {
    expect(() =>
      loadConfig({ cwd: folder(), env: { PRIM_REDIS_URL: 'redis://127.0.0.1:1' } }),
    ).toThrow('cluster.secret is required when redis.url is set (cluster mode)');
  });

  test('cluster keys are checked: Redis URL, modes, addresses, secrets', () => {
    const load = (env: Record<string, string>) => () =>
      loadConfig({
        cwd: folder(),
        env: { PRIM_CLUSTER_SECRET: 'cluster-secret-0123456789', ...env },
      });
    expect(load({ PRIM_REDIS_URL: 'redis://' })).toThrow(
      'PRIM_REDIS_URL: "redis://" is not allowed; use redis://[user:password@]host[:port][/db]',
    );
    expect(load({ PRIM_REDIS_URL: 'redis://127.0.0.1:99999' })).toThrow(
      'PRIM_REDIS_URL: "redis://127.0.0.1:99999" is not allowed',
    );
    expect(load({ PRIM_REDIS_URL: 'redis://h:1', PRIM_REDIS_MODE: 'sentinel' })).toThrow(
      'redis.mode sentinel needs redis.nodes',
    );
    expect(load({ PRIM_REDIS_NODES: '10.0.0.1:26379,nonsense' })).toThrow(
      'PRIM_REDIS_NODES: "nonsense" is not allowed; use host:port',
    );
    expect(load({ PRIM_GRPC_ADVERTISE: 'garbage' })).toThrow(
      'PRIM_GRPC_ADVERTISE: "garbage" is not allowed; use host:port',
    );
    // A secret is never echoed, and blanks do not make one.
    for (const value of ['short', ' '.repeat(20), ' padded-secret-0123456789 ']) {
      const attempt = load({ PRIM_REDIS_URL: 'redis://h:1', PRIM_CLUSTER_SECRET: value });
      expect(attempt).toThrow('PRIM_CLUSTER_SECRET: the value given is not allowed');
      expect(attempt).not.toThrow(value);
    }
    const plaintext = 'the peer link between nodes is plaintext and leaves this host';
    const local = load({ PRIM_REDIS_URL: 'redis://h:1' })();
    expect(local.warnings.join('\n')).not.toContain(plaintext);
    const lan = load({ PRIM_REDIS_URL: 'redis://h:1', PRIM_GRPC_ADVERTISE: '10.0.0.5:9001' })();
    expect(lan.warnings.join('\n')).toContain(plaintext);
    const standalone = load({ PRIM_REDIS_URL: 'redis://h:1', PRIM_REDIS_NODES: 'a:1' })();
    expect(standalone.warnings).toContain(
      'redis.nodes is ignored with redis.mode standalone (the server is redis.url)',
    );
  });

  test('tokens.defaultTtl may not exceed tokens.maxTtl', () => {
    expect(() => loadConfig({ cwd: folder(), env: { PRIM_TOKENS_DEFAULT_TTL: '40d' } })).toThrow(
      'tokens.defaultTtl (40d) must not be longer than tokens.maxTtl (30d)',
    );
  });
});

describe('value parsers', () => {
  test('durations take ms, s, m, h, d and bare seconds', () => {
    expect(parseDuration('x', '500ms')).toBe(500);
    expect(parseDuration('x', '90s')).toBe(90_000);
    expect(parseDuration('x', '10m')).toBe(600_000);
    expect(parseDuration('x', '12h')).toBe(43_200_000);
    expect(parseDuration('x', '30d')).toBe(2_592_000_000);
    expect(parseDuration('x', 60)).toBe(60_000);
    expect(parseDuration('x', '60')).toBe(60_000);
    expect(() => parseDuration('ttl', '-5s')).toThrow('ttl: "-5s" is not a duration');
  });

  test('sizes take bytes, KiB and MiB', () => {
    expect(parseBytes('x', 65536)).toBe(65536);
    expect(parseBytes('x', '64KiB')).toBe(65536);
    expect(parseBytes('x', '4MiB')).toBe(4 * 1024 * 1024);
    expect(() => parseBytes('limits.maxFrameBytes', 'big')).toThrow(
      'limits.maxFrameBytes: "big" is not a size',
    );
  });
});

describe('paths and empty sections', () => {
  test('a section whose keys are all commented out is unset, not unknown', () => {
    const cwd = folder();
    writeFileSync(
      path.join(cwd, 'prim.yaml'),
      'store:\n  # url: sqlite:x.db\nhttp:\n  port: 9100\n',
    );
    const { config, warnings } = loadConfig({ cwd, env: {} });
    expect(warnings).toEqual([]);
    expect(config.store.url).toBe(`sqlite:${path.join(cwd, '.prim', 'prim.db')}`);
  });

  test('a relative SQLite path is relative to the config file folder', () => {
    const cwd = folder();
    const sub = path.join(cwd, 'etc');
    mkdirSync(sub);
    writeFileSync(path.join(sub, 'prim.yaml'), 'store:\n  url: sqlite:db/prim.db\n');
    const { config } = loadConfig({ cwd, configPath: 'etc/prim.yaml', env: {} });
    expect(config.store.url).toBe(`sqlite:${path.join(sub, 'db', 'prim.db')}`);
  });
});
