// What the config check refuses before a node starts, and how it says so:
// hosts, bounds on durations and sizes, the shape of sections, ports that
// collide, and URLs echoed without their credentials.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { tempDir } from './helpers/node.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// Loads `yaml` as prim.yaml, with `env` as the environment.
function load(yaml: string, env: Record<string, string> = {}) {
  const cwd = tempDir('prim-config-checks-');
  dirs.push(cwd);
  writeFileSync(path.join(cwd, 'prim.yaml'), yaml);
  return loadConfig({ cwd, env });
}

// The message a refused config stops with.
function refusal(yaml: string, env: Record<string, string> = {}): string {
  try {
    load(yaml, env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
}

const CLUSTER = 'cluster:\n  secret: cluster-secret-0123456789\n';

describe('hosts', () => {
  test('a dotted quad that is no IPv4 address is refused, naming key and value', () => {
    expect(refusal('grpc:\n  host: "999.1.1.1"\n')).toBe(
      'grpc.host: "999.1.1.1" is not allowed: it is not an IPv4 address (four numbers ' +
        'from 0 to 255); use an IP address (like 127.0.0.1, 0.0.0.0 or ::1) or a host ' +
        'name (letters, digits, - and .)',
    );
    expect(refusal('', { PRIM_HTTP_HOST: '10.0.0' })).toMatch(
      /^PRIM_HTTP_HOST: "10\.0\.0" is not allowed: it is not an IPv4 address/,
    );
  });

  test('a host that is neither an address nor a name is refused', () => {
    expect(refusal('http:\n  host: "my host"\n')).toMatch(
      /^http\.host: "my host" is not allowed: it is not an IP address or a host name; /,
    );
    expect(refusal('grpc:\n  host: "[::1]"\n')).toBe(
      'grpc.host: "[::1]" is not allowed; write an IPv6 address without brackets, like ::1',
    );
  });

  test('addresses and names are taken as given, without a lookup', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'node-1.prim.internal']) {
      const { config } = load(`http:\n  host: "${host}"\ngrpc:\n  host: "${host}"\n`);
      expect(config.http.host).toBe(host);
      expect(config.grpc.host).toBe(host);
    }
  });

  test('the host of grpc.advertise and redis.nodes is checked too', () => {
    expect(refusal(CLUSTER, { PRIM_GRPC_ADVERTISE: '999.1.1.1:9001' })).toBe(
      'PRIM_GRPC_ADVERTISE: "999.1.1.1:9001" is not allowed: its host is not an IPv4 ' +
        'address (four numbers from 0 to 255); use host:port, like 10.0.0.5:9001',
    );
    expect(refusal('redis:\n  nodes: ["10.0.0.1:26379", "300.0.0.1:26379"]\n')).toMatch(
      /^redis\.nodes: "300\.0\.0\.1:26379" is not allowed: its host is not an IPv4 address/,
    );
    const { config } = load(CLUSTER, { PRIM_GRPC_ADVERTISE: '[::1]:9001' });
    expect(config.grpc.advertise).toBe('[::1]:9001');
  });
});

describe('bounds', () => {
  test('a huge cluster.ttl is refused with the range allowed', () => {
    expect(refusal('cluster:\n  ttl: 1e30\n')).toBe(
      'cluster.ttl: "1e+30" is not allowed; use a duration from 1s to 1h',
    );
    expect(refusal('', { PRIM_CLUSTER_TTL: '99999999999999999999d' })).toBe(
      'PRIM_CLUSTER_TTL: "99999999999999999999d" is not allowed; use a duration from 1s to 1h',
    );
  });

  test.each([
    ['shutdownTimeout', '2h', 'at most 1h'],
    ['grpc.callTimeout', '2m', 'from 10ms to 1m'],
    ['tokens.defaultTtl', '400d', 'from 1s to 365d'],
    ['tokens.maxTtl', '400d', 'from 1s to 365d'],
    ['tokens.rotationGrace', '400d', 'at most 365d'],
    ['ws.heartbeatTimeout', '25d', 'from 100ms to 1h'],
    ['ws.loginTimeout', '25d', 'from 100ms to 1h'],
  ])('%s %s is refused: a duration %s', (key, value, range) => {
    const [section, name] = key.includes('.') ? key.split('.') : [undefined, key];
    const yaml = section ? `${section}:\n  ${name}: ${value}\n` : `${name}: ${value}\n`;
    expect(refusal(yaml)).toBe(`${key}: "${value}" is not allowed; use a duration ${range}`);
  });

  test('durations at their bounds are taken', () => {
    const { config } = load(
      'shutdownTimeout: 1h\ncluster:\n  ttl: 1h\ngrpc:\n  callTimeout: 1m\n' +
        'tokens:\n  defaultTtl: 365d\n  maxTtl: 365d\n  rotationGrace: 365d\n' +
        'ws:\n  heartbeatTimeout: 1h\n  loginTimeout: 1h\n',
    );
    expect(config.cluster.ttl).toBe(3_600_000);
    expect(config.tokens.maxTtl).toBe(365 * 86_400_000);
  });

  test('frame and buffer sizes are bounded', () => {
    expect(refusal('limits:\n  maxFrameBytes: 1GiB\n')).toBe(
      'limits.maxFrameBytes: "1GiB" is not allowed; use a size from 1KiB to 64MiB',
    );
    expect(refusal('', { PRIM_LIMITS_MAX_BUFFERED_BYTES: '99999999999999999999' })).toBe(
      'PRIM_LIMITS_MAX_BUFFERED_BYTES: "99999999999999999999" is not allowed; ' +
        'use a size from 1KiB to 1GiB',
    );
    const { config } = load('limits:\n  maxFrameBytes: 64MiB\n  maxBufferedBytes: 1GiB\n');
    expect(config.limits.maxBufferedBytes).toBe(1024 ** 3);
  });
});

describe('sections', () => {
  test.each([
    ['grpc: [1, 2]\n', 'grpc must be a mapping of its keys (host, port, ', 'a list'],
    ['grpc: "9210"\n', 'grpc must be a mapping of its keys (host, port, ', 'a string'],
    ['cluster: 15\n', 'cluster must be a mapping of its keys (secret, ttl)', 'a number'],
  ])('%j is refused, not ignored as unknown', (yaml, start, kind) => {
    const message = refusal(yaml);
    expect(message.startsWith(start)).toBe(true);
    expect(message.endsWith(`), not ${kind}`)).toBe(true);
  });

  test('every section is checked', () => {
    for (const section of ['http', 'store', 'redis', 'grpc', 'cluster', 'tokens', 'ws']) {
      expect(refusal(`${section}: true\n`)).toMatch(
        new RegExp(`^${section} must be a mapping of its keys \\(.+\\), not a boolean$`),
      );
    }
    expect(refusal('limits: []\n')).toMatch(/^limits must be a mapping .*, not a list$/);
    expect(refusal('log: info\n')).toBe('log must be a mapping of its keys (level), not a string');
  });

  test('a string given to a section is not shown: it may be a URL with a password', () => {
    const message = refusal('redis: "redis://user:hunter2@127.0.0.1:6391"\n');
    expect(message).toBe(
      'redis must be a mapping of its keys (url, prefix, mode, nodes, sentinelName), ' +
        'not a string',
    );
  });

  test('a key given a mapping is refused', () => {
    expect(refusal('http:\n  port:\n    value: 9100\n')).toBe(
      'http.port must be a single value, not a mapping',
    );
    expect(refusal('dataDir:\n  path: ./data\n')).toBe(
      'dataDir must be a single value, not a mapping',
    );
  });

  test.each([
    ['http:\n  port: [8410]\n', 'http.port'],
    ['grpc:\n  port: [9410]\n', 'grpc.port'],
    ['redis:\n  url: ["redis://user:hunter2@127.0.0.1:6391"]\n', 'redis.url'],
    ['cluster:\n  ttl: [15s]\n', 'cluster.ttl'],
    ['store:\n  url: ["sqlite:./other.db"]\n', 'store.url'],
    ['ws:\n  sessionPolicy: [replace]\n', 'ws.sessionPolicy'],
    ['nodeId: [node-a]\n', 'nodeId'],
  ])('a one-item list for a single value (%j) is refused', (yaml, key) => {
    expect(refusal(yaml)).toBe(`${key} must be a single value, not a list`);
  });

  test('keys that hold lists still take them', () => {
    const { config } = load('platforms: [web]\nredis:\n  nodes: ["10.0.0.5:6379"]\n');
    expect(config.platforms).toEqual(['web']);
    expect(config.redis.nodes).toEqual(['10.0.0.5:6379']);
  });
});

describe('strings', () => {
  const QUOTE = 'write it in quotes ("…"); YAML read it as a number, which can change its digits';

  test('a key or secret written as a bare number is refused, and not shown', () => {
    const digits = '12345678901234567890123';
    for (const [yaml, key] of [
      [`adminKey: ${digits}\n`, 'adminKey'],
      [`${CLUSTER.replace(/secret: .*/, `secret: ${digits}`)}`, 'cluster.secret'],
    ]) {
      const message = refusal(yaml);
      expect(message).toBe(`${key}: ${QUOTE}`);
      expect(message).not.toMatch(/\d{5}|e\+22/);
    }
  });

  test('other string keys refuse a bare number too', () => {
    expect(refusal('nodeId: 007\n')).toBe(`nodeId: ${QUOTE}`);
    expect(refusal('redis:\n  prefix: 1e3\n')).toBe(`redis.prefix: ${QUOTE}`);
  });

  test('quoted, or from the environment, the digits are kept', () => {
    const digits = '12345678901234567890123';
    const { config } = load(`adminKey: "${digits}"\nnodeId: "007"\n`, {
      PRIM_CLUSTER_SECRET: digits,
    });
    expect([config.adminKey, config.nodeId, config.cluster.secret]).toEqual([
      digits,
      '007',
      digits,
    ]);
  });
});

describe('nodeId', () => {
  const ALLOWED = 'use a name without spaces at either end and without control characters';

  test('a blank nodeId is refused, naming the variable', () => {
    expect(refusal('', { PRIM_NODE_ID: ' ' })).toBe(`PRIM_NODE_ID: " " is not allowed; ${ALLOWED}`);
    expect(refusal('nodeId: "  "\n')).toBe(`nodeId: "  " is not allowed; ${ALLOWED}`);
  });

  test('spaces at either end and control characters are refused', () => {
    expect(refusal('', { PRIM_NODE_ID: ' node-1' })).toBe(
      `PRIM_NODE_ID: " node-1" is not allowed; ${ALLOWED}`,
    );
    expect(refusal('nodeId: "node-1\\t"\n')).toBe(`nodeId: "node-1\\t" is not allowed; ${ALLOWED}`);
    expect(refusal('nodeId: "node\\u0007-1"\n')).toBe(
      `nodeId: "node\\u0007-1" is not allowed; ${ALLOWED}`,
    );
  });

  test('a control character above U+007F is shown escaped', () => {
    expect(refusal('', { PRIM_NODE_ID: 'node\u0085-1' })).toBe(
      `PRIM_NODE_ID: "node\\u0085-1" is not allowed; ${ALLOWED}`,
    );
  });

  test('a name with spaces inside is taken as written', () => {
    expect(load('nodeId: "rack 1 node 2"\n').config.nodeId).toBe('rack 1 node 2');
  });
});

describe('ports', () => {
  test('in cluster mode grpc.port and http.port must differ', () => {
    const yaml = `${CLUSTER}redis:\n  url: redis://127.0.0.1:1\nhttp:\n  port: 8210\n`;
    expect(refusal(`${yaml}grpc:\n  port: 8210\n`)).toBe(
      'grpc.port and http.port are both 8210: in cluster mode the peer link and HTTP ' +
        'each need a port of their own; change one of them',
    );
    expect(refusal(yaml, { PRIM_GRPC_PORT: '8210' })).toMatch(/^grpc\.port and http\.port/);
  });

  test('the same port is fine for a single node, and port 0 twice picks two', () => {
    expect(load('http:\n  port: 8210\ngrpc:\n  port: 8210\n').config.grpc.port).toBe(8210);
    const both = `${CLUSTER}redis:\n  url: redis://127.0.0.1:1\nhttp:\n  port: 0\ngrpc:\n  port: 0\n`;
    expect(load(both).config.grpc.port).toBe(0);
  });
});

describe('URLs in errors', () => {
  test.each([
    ['redis:\n  url: "http://user:hunter2@127.0.0.1:6391"\n', 'redis.url: "http://[Redacted]@'],
    [
      'store:\n  url: "postgres://user:hunter2@127.0.0.1/prim"\n',
      'store.url: "postgres://[Redacted]@',
    ],
    ['redis:\n  url: "REDIS://:hunter2@127.0.0.1:6391"\n', 'redis.url: "REDIS://[Redacted]@'],
  ])('%j is refused with its credentials redacted', (yaml, start) => {
    const message = refusal(yaml + CLUSTER);
    expect(message.startsWith(start)).toBe(true);
    expect(message).toContain('is not allowed; use a URL starting with');
    expect(message).not.toContain('hunter2');
  });

  test('a value that cannot be read as a URL is not shown when it may hold a password', () => {
    for (const url of ['user:hunter2@127.0.0.1:6391', 'redis:/user:hunter2@127.0.0.1:6391']) {
      const message = refusal(CLUSTER, { PRIM_REDIS_URL: url });
      expect(message).toMatch(/^PRIM_REDIS_URL: the value given is not allowed; use /);
      expect(message).not.toContain('hunt');
    }
    // A "/" in the password: all up to the last "@" is the credential.
    const slash = refusal(CLUSTER, { PRIM_REDIS_URL: 'redis://user:hunt/er2@127.0.0.1:6391' });
    expect(slash).toMatch(
      /^PRIM_REDIS_URL: "redis:\/\/\[Redacted\]@127.0.0.1:6391" is not allowed/,
    );
    expect(refusal('', { PRIM_STORE_URL: 'db/prim.db' })).toBe(
      'PRIM_STORE_URL: "db/prim.db" is not allowed; use a URL starting with sqlite: or ' +
        'mongodb:// or mongodb+srv://',
    );
  });
});
