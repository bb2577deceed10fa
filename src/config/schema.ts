// Every configuration key, its default and what it allows, in one table.
// Environment overrides and validation are derived from it (see load.ts).
import { isIP } from 'node:net';
import { PrimError } from '../errors.js';
import { redactUrl } from '../log.js';
import {
  formatBytes,
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

export interface KeySpec {
  key: string;
  default: unknown;
  // Turns a raw value from YAML or the environment into the typed value.
  parse: (name: string, raw: unknown) => unknown;
  // Takes a YAML list (or, from the environment, a comma-separated one);
  // every other key takes one value.
  list?: true;
}

// A string key given a bare number in YAML. The number is not what was
// written (007 is 7, 1e3 is 1000, a long key loses its last digits), and
// the node would run with, or compare against, a value nobody wrote. The
// value is not shown: it may be a secret. The environment holds strings.
function refuseNumber(name: string, raw: unknown): void {
  if (typeof raw === 'number') {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: write it in quotes ("…"); YAML read it as a number, which can change its digits`,
    );
  }
}

function text(minLength = 1) {
  return (name: string, value: unknown): string => {
    refuseNumber(name, value);
    if (typeof value !== 'string' || value.length < minLength) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: ${JSON.stringify(value)} is not allowed; use a string of ` +
          `at least ${minLength} characters`,
      );
    }
    return value;
  };
}

// A string in quotes, with every character that does not print escaped
// (JSON escapes only those below U+0020).
function shownText(value: string): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// A name shown in lists and kept in the registry, like nodeId: one that is
// blank, or differs from another only by spaces at an end or by a
// character that does not print, shows as a blank or a lookalike row.
function name() {
  const read = text();
  return (key: string, raw: unknown): string => {
    const value = read(key, raw);
    if (value.trim() !== value || /[\u0000-\u001f\u007f-\u009f]/.test(value)) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${key}: ${shownText(value)} is not allowed; use a name without spaces ` +
          'at either end and without control characters',
      );
    }
    return value;
  };
}

// A key or secret: never echoed in the error, which may end up in a log.
function secret(minLength: number) {
  return (name: string, value: unknown): string => {
    refuseNumber(name, value);
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

// A URL-valued key as its error shows it: never with credentials.
// redactUrl reads scheme://user:password@host; a value it cannot read so
// (no scheme, or an unencoded / or @ in the password) still has an @ left,
// may still hold a password, and is not shown at all.
function shownUrl(value: string): string {
  const redacted = redactUrl(value);
  return redacted.replace('[Redacted]@', '').includes('@') ? 'the value given' : `"${redacted}"`;
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
      `${name}: ${shownUrl(value)} is not allowed; use redis://[user:password@]host[:port][/db]`,
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
        `${name}: ${shownUrl(value)} is not allowed; use a URL starting with ` +
          schemes.join(' or '),
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

// A zero heartbeat timeout would close every session at once, and a zero
// ttl would issue tokens that are born expired. The upper bounds keep
// values within what timers take (setTimeout holds at most about 24 days,
// and fires at once past that), what Redis takes as an expiry, and what a
// date can hold; inside them, each is far beyond any useful setting.
function durationWithin(minMs: number, maxMs: number) {
  return (name: string, raw: unknown): number => {
    const value = parseDuration(name, raw);
    if (value < minMs || value > maxMs) {
      const range =
        minMs === 0
          ? `at most ${formatDuration(maxMs)}`
          : `from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: "${String(raw)}" is not allowed; use a duration ${range}`,
      );
    }
    return value;
  };
}

// ws reads a frame limit of 0 as "no limit"; a login frame needs about
// 1 KiB. A peer carries a message in up to six times its size, and gRPC
// takes messages below 2 GiB: frames are bounded well under that.
function bytesWithin(min: number, max: number) {
  return (name: string, raw: unknown): number => {
    const value = parseBytes(name, raw);
    if (value < min || value > max) {
      throw new PrimError(
        'BAD_PARAMETER',
        `${name}: "${String(raw)}" is not allowed; use a size from ${formatBytes(min)} ` +
          `to ${formatBytes(max)}`,
      );
    }
    return value;
  };
}

const port = (name: string, raw: unknown) => parseInteger(name, raw, 0, 65535);
const positive = (name: string, raw: unknown) =>
  parseInteger(name, raw, 1, Number.MAX_SAFE_INTEGER);

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

export const KEYS: KeySpec[] = [
  { key: 'dataDir', default: './.prim', parse: text() },
  { key: 'adminKey', default: undefined, parse: secret(16) },
  { key: 'nodeId', default: undefined, parse: name() },
  { key: 'shutdownTimeout', default: '10s', parse: durationWithin(0, HOUR) },
  {
    key: 'platforms',
    default: ['web', 'android', 'ios', 'desktop'],
    parse: list,
    list: true,
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
  { key: 'redis.nodes', default: [], parse: addresses, list: true },
  { key: 'redis.sentinelName', default: 'mymaster', parse: text() },
  { key: 'grpc.host', default: '127.0.0.1', parse: parseHost },
  { key: 'grpc.port', default: 9001, parse: port },
  { key: 'grpc.advertise', default: undefined, parse: address },
  { key: 'grpc.callTimeout', default: '1s', parse: durationWithin(10, MINUTE) },
  { key: 'grpc.tlsCert', default: undefined, parse: text() },
  { key: 'grpc.tlsKey', default: undefined, parse: text() },
  { key: 'grpc.tlsCa', default: undefined, parse: text() },
  { key: 'cluster.secret', default: undefined, parse: secret(16) },
  // The registry record and presence live this long unless refreshed.
  { key: 'cluster.ttl', default: '15s', parse: durationWithin(SECOND, HOUR) },
  { key: 'tokens.defaultTtl', default: '12h', parse: durationWithin(SECOND, 365 * DAY) },
  { key: 'tokens.maxTtl', default: '30d', parse: durationWithin(SECOND, 365 * DAY) },
  { key: 'tokens.rotationGrace', default: '1h', parse: durationWithin(0, 365 * DAY) },
  { key: 'ws.heartbeatTimeout', default: '90s', parse: durationWithin(100, HOUR) },
  { key: 'ws.loginTimeout', default: '10s', parse: durationWithin(100, HOUR) },
  { key: 'ws.sessionPolicy', default: 'replace', parse: oneOf('replace', 'multi') },
  {
    key: 'limits.maxFrameBytes',
    default: 65536,
    parse: bytesWithin(KIB, 64 * MIB),
  },
  {
    key: 'limits.maxBufferedBytes',
    default: 4 * MIB,
    parse: bytesWithin(KIB, GIB),
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
