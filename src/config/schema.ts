// Every configuration key, its default and what it allows, in one table.
// Environment overrides and validation are derived from it (see load.ts).
import { isIP } from 'node:net';
import { PrimError } from '../errors.js';
import { redactUrl } from '../log.js';
import {
  formatDuration,
  hostProblem,
  parseBytes,
  parseDuration,
  parseHost,
  parseInteger,
} from './values.js';

export interface Config {
  dataDir: string;
  adminKey: string | undefined;
  nodeId: string | undefined;
  shutdownTimeout: number;
  platforms: string[];
  http: { host: string; port: number };
  store: { url: string | undefined };
  redis: {
    url: string | undefined;
    prefix: string;
    mode: 'standalone' | 'sentinel' | 'cluster';
    nodes: string[];
    sentinelName: string;
  };
  // advertise: unset means grpc.host:grpc.port (see ClusterNode.address).
  grpc: {
    host: string;
    port: number;
    advertise: string | undefined;
    callTimeout: number;
    // Files for mutual TLS between nodes; all three or none.
    tlsCert: string | undefined;
    tlsKey: string | undefined;
    tlsCa: string | undefined;
  };
  cluster: { secret: string | undefined; ttl: number };
  tokens: { defaultTtl: number; maxTtl: number; rotationGrace: number };
  ws: {
    heartbeatTimeout: number;
    loginTimeout: number;
    sessionPolicy: 'replace' | 'multi';
  };
  limits: {
    maxFrameBytes: number;
    maxBufferedBytes: number;
    maxConnections: number;
    messagesPerSecond: number;
  };
  log: { level: string };
}

interface KeySpec {
  key: string;
  default: unknown;
  // Turns a raw value from YAML or the environment into the typed value.
  parse: (name: string, raw: unknown) => unknown;
}

function text(minLength = 1) {
  return (name: string, raw: unknown): string => {
    const value = typeof raw === 'number' ? String(raw) : raw;
    if (typeof value !== 'string' || value.length < minLength) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: ${JSON.stringify(raw)} is not allowed; use a string of ` +
          `at least ${minLength} characters`,
      );
    }
    return value;
  };
}

// A key or secret: never echoed in the error, which may end up in a log.
function secret(minLength: number) {
  return (name: string, raw: unknown): string => {
    const value = typeof raw === 'number' ? String(raw) : raw;
    if (typeof value !== 'string' || value.trim().length < minLength || value !== value.trim()) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: the value given is not allowed; use at least ${minLength} characters, ` +
          'without spaces at either end',
      );
    }
    return value;
  };
}

// redis:// or rediss:// with a host, and a port if one is given.
function redisUrl(name: string, raw: unknown): string {
  const value = urlWith('redis://', 'rediss://')(name, raw);
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (!parsed?.hostname) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${redactUrl(value)}" is not allowed; use redis://[user:password@]host[:port][/db]`,
    );
  }
  return value;
}

function oneOf(...choices: string[]) {
  return (name: string, raw: unknown): string => {
    const value = String(raw).trim().toLowerCase();
    if (!choices.includes(value)) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: "${String(raw)}" is not allowed; use one of ${choices.join(', ')}`,
      );
    }
    return value;
  };
}

function urlWith(...schemes: string[]) {
  return (name: string, raw: unknown): string => {
    const value = String(raw).trim();
    if (!schemes.some((scheme) => value.startsWith(scheme))) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: "${value}" is not allowed; use a URL starting with ` + schemes.join(' or '),
      );
    }
    return value;
  };
}

function list(name: string, raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw : String(raw).split(',');
  const values = items.map((item) => String(item).trim().toLowerCase());
  if (values.length === 0 || values.some((item) => !/^[a-z0-9_-]{1,32}$/.test(item))) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: ${JSON.stringify(raw)} is not allowed; use a list of ` +
        'names of letters, digits, - and _',
    );
  }
  return [...new Set(values)];
}

// host:port, the host a name, IPv4 or [IPv6].
function address(name: string, raw: unknown): string {
  const value = String(raw).trim();
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(value);
  const problem = match === null ? undefined : addressHostProblem(match[1]);
  if (!match || Number(match[2]) > 65535 || problem !== undefined) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${value}" is not allowed` +
        (problem === undefined ? '' : `: its host ${problem}`) +
        '; use host:port, like 10.0.0.5:9001',
    );
  }
  return value;
}

function addressHostProblem(host: string): string | undefined {
  if (!host.startsWith('[')) return hostProblem(host);
  return isIP(host.slice(1, -1)) === 6 ? undefined : 'is not an IPv6 address';
}

function addresses(name: string, raw: unknown): string[] {
  if (Array.isArray(raw) && raw.length === 0) return [];
  const items = Array.isArray(raw) ? raw : String(raw).split(',');
  return items.map((item) => address(name, item));
}

const duration = (name: string, raw: unknown) => parseDuration(name, raw);

// A zero heartbeat timeout would close every session at once, and a zero
// ttl would issue tokens that are born expired: such values are refused.
function durationAtLeast(minMs: number) {
  return (name: string, raw: unknown): number => {
    const value = parseDuration(name, raw);
    if (value < minMs) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: "${String(raw)}" is not allowed; use ${formatDuration(minMs)} or more`,
      );
    }
    return value;
  };
}

// ws reads a frame limit of 0 as "no limit"; a login frame needs about 1 KiB.
function bytesAtLeast(min: number) {
  return (name: string, raw: unknown): number => {
    const value = parseBytes(name, raw);
    if (value < min) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: "${String(raw)}" is not allowed; use ${min} bytes or more`,
      );
    }
    return value;
  };
}
const port = (name: string, raw: unknown) => parseInteger(name, raw, 0, 65535);
const positive = (name: string, raw: unknown) =>
  parseInteger(name, raw, 1, Number.MAX_SAFE_INTEGER);

export const KEYS: KeySpec[] = [
  { key: 'dataDir', default: './.prim', parse: text() },
  { key: 'adminKey', default: undefined, parse: secret(16) },
  { key: 'nodeId', default: undefined, parse: text() },
  { key: 'shutdownTimeout', default: '10s', parse: duration },
  {
    key: 'platforms',
    default: ['web', 'android', 'ios', 'desktop'],
    parse: list,
  },
  { key: 'http.host', default: '127.0.0.1', parse: parseHost },
  { key: 'http.port', default: 8093, parse: port },
  {
    key: 'store.url',
    default: undefined,
    parse: urlWith('sqlite:', 'mongodb://', 'mongodb+srv://'),
  },
  { key: 'redis.url', default: undefined, parse: redisUrl },
  { key: 'redis.prefix', default: 'prim:', parse: text() },
  { key: 'redis.mode', default: 'standalone', parse: oneOf('standalone', 'sentinel', 'cluster') },
  { key: 'redis.nodes', default: [], parse: addresses },
  { key: 'redis.sentinelName', default: 'mymaster', parse: text() },
  { key: 'grpc.host', default: '127.0.0.1', parse: parseHost },
  { key: 'grpc.port', default: 9001, parse: port },
  { key: 'grpc.advertise', default: undefined, parse: address },
  { key: 'grpc.callTimeout', default: '1s', parse: durationAtLeast(10) },
  { key: 'grpc.tlsCert', default: undefined, parse: text() },
  { key: 'grpc.tlsKey', default: undefined, parse: text() },
  { key: 'grpc.tlsCa', default: undefined, parse: text() },
  { key: 'cluster.secret', default: undefined, parse: secret(16) },
  // The registry record and presence live this long unless refreshed.
  { key: 'cluster.ttl', default: '15s', parse: durationAtLeast(1000) },
  { key: 'tokens.defaultTtl', default: '12h', parse: durationAtLeast(1000) },
  { key: 'tokens.maxTtl', default: '30d', parse: durationAtLeast(1000) },
  { key: 'tokens.rotationGrace', default: '1h', parse: duration },
  { key: 'ws.heartbeatTimeout', default: '90s', parse: durationAtLeast(100) },
  { key: 'ws.loginTimeout', default: '10s', parse: durationAtLeast(100) },
  { key: 'ws.sessionPolicy', default: 'replace', parse: oneOf('replace', 'multi') },
  {
    key: 'limits.maxFrameBytes',
    default: 65536,
    parse: bytesAtLeast(1024),
  },
  {
    key: 'limits.maxBufferedBytes',
    default: 4 * 1024 * 1024,
    parse: bytesAtLeast(1024),
  },
  { key: 'limits.maxConnections', default: 100_000, parse: positive },
  { key: 'limits.messagesPerSecond', default: 100, parse: positive },
  {
    key: 'log.level',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
];

// `ws.heartbeatTimeout` → `PRIM_WS_HEARTBEAT_TIMEOUT`.
export function envName(key: string): string {
  return (
    'PRIM_' +
    key
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2'))
      .join('_')
      .toUpperCase()
  );
}
