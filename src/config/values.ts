// Parsers for the value types that configuration, CLI flags and REST
// parameters share. Each returns the parsed value or throws a PrimError that
// names what was given and what is allowed.
import { isIP } from 'node:net';
import { PrimError } from '../errors.js';

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// Durations are written like 90s, 12h or 30d; a bare number means seconds,
// which is what prim's REST clients send for a ttl.
export function parseDuration(name: string, raw: unknown): number {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) {
    return Math.round(raw * 1000);
  }
  const text = String(raw).trim();
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text);
  if (!match) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${text}" is not a duration; write a number and a unit ` +
        'like 500ms, 90s, 10m, 12h or 30d',
    );
  }
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 's']);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1_000_000,
  mib: 1024 * 1024,
  gb: 1_000_000_000,
  gib: 1024 * 1024 * 1024,
};

export function parseBytes(name: string, raw: unknown): number {
  const text = String(raw).trim().toLowerCase();
  const match = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/.exec(text);
  if (!match) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${String(raw)}" is not a size; write bytes (65536) or ` +
        'a unit like 64KiB or 4MiB',
    );
  }
  return Number(match[1]) * BYTE_UNITS[match[2] ?? ''];
}

export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

// A label of a host name; _ is not in the RFCs, but container platforms
// hand out such names and resolvers answer for them.
const HOST_LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

const NOT_IPV4 = 'is not an IPv4 address (four numbers from 0 to 255)';

// Why a host to listen on or dial is refused, or undefined: it is an IP
// address or could be a host name. Nothing is looked up; a name that does
// not resolve fails where it is used. A name whose last label is a number
// would be read as an IPv4 address (999.1.1.1, 10.0.0), which net.isIP has
// refused already.
export function hostProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (/^[\d.]+$/.test(host)) return NOT_IPV4;

  const labels = host.replace(/\.$/, '').split('.');
  const plausible =
    host.length <= 253 &&
    labels.every((label) => HOST_LABEL.test(label)) &&
    !/^\d+$/.test(labels[labels.length - 1]);
  return plausible ? undefined : 'is not an IP address or a host name';
}

export function parseHost(name: string, raw: unknown): string {
  const value = String(raw).trim();
  const bare = /^\[(.*)\]$/.exec(value)?.[1];
  if (bare !== undefined && isIP(bare) === 6) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${value}" is not allowed; write an IPv6 address without brackets, like ${bare}`,
    );
  }
  const problem = hostProblem(value);
  if (problem !== undefined) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${value}" is not allowed: it ${problem}; use an IP address ` +
        '(like 127.0.0.1, 0.0.0.0 or ::1) or a host name (letters, digits, - and .)',
    );
  }
  return value;
}

export function parseInteger(name: string, raw: unknown, min: number, max: number): number {
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(value) || value < min || value > max || String(raw).trim() === '') {
    throw new PrimError(
      'BAD_PARAMETER',
      `${name}: "${String(raw)}" is not allowed; use a whole number ` + `from ${min} to ${max}`,
    );
  }
  return value;
}
