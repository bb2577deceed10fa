// Loads prim.yaml, applies PRIM_* overrides and validates every key.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PrimError } from '../errors.js';
import { envName, KEYS, type Config, type KeySpec } from './schema.js';
import { formatDuration } from './values.js';

export interface LoadedConfig {
  config: Config;
  // The file that was read, or undefined when none exists (all defaults).
  file: string | undefined;
  warnings: string[];
}

export interface LoadOptions {
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// Variables that are prim's own but not configuration keys.
const OTHER_PRIM_VARIABLES = new Set(['PRIM_CONFIG']);
const OTHER_PRIM_PREFIXES = ['PRIM_TEST_'];

export function resolveConfigPath(options: LoadOptions = {}): string {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  return path.resolve(cwd, options.configPath ?? env.PRIM_CONFIG ?? 'prim.yaml');
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = resolveConfigPath(options);
  const warnings: string[] = [];

  const explicit = options.configPath !== undefined || env.PRIM_CONFIG !== undefined;
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    raw = readYaml(file);
  } else if (explicit) {
    throw new PrimError('BAD_PARAMETER', `config file ${file} does not exist`);
  }

  checkShapes(raw);
  const flat = flatten(raw);
  const known = new Set(KEYS.map((spec) => spec.key));
  for (const key of Object.keys(flat)) {
    if (!known.has(key)) {
      warnings.push(`unknown key "${key}" in ${file} is ignored`);
    }
  }
  const envNames = new Map(KEYS.map((spec) => [envName(spec.key), spec.key]));
  for (const name of Object.keys(env)) {
    if (
      name.startsWith('PRIM_') &&
      !envNames.has(name) &&
      !OTHER_PRIM_VARIABLES.has(name) &&
      !OTHER_PRIM_PREFIXES.some((prefix) => name.startsWith(prefix))
    ) {
      warnings.push(`unknown environment variable ${name} is ignored`);
    }
  }

  const values: Record<string, unknown> = {};
  for (const spec of KEYS) {
    const fromEnv = env[envName(spec.key)];
    const given = fromEnv !== undefined && fromEnv !== '' ? fromEnv : flat[spec.key];
    const source = fromEnv !== undefined && fromEnv !== '' ? envName(spec.key) : spec.key;
    const value = given ?? spec.default;
    values[spec.key] = value === undefined ? undefined : spec.parse(source, value);
  }

  const folder = existsSync(file) ? path.dirname(file) : (options.cwd ?? process.cwd());
  const config = unflatten(values) as unknown as Config;
  config.dataDir = path.resolve(folder, config.dataDir);
  for (const key of ['tlsCert', 'tlsKey', 'tlsCa'] as const) {
    const file = config.grpc[key];
    if (file !== undefined) config.grpc[key] = path.resolve(folder, file);
  }
  config.store.url =
    sqliteRelativeTo(folder, config.store.url) ?? `sqlite:${path.join(config.dataDir, 'prim.db')}`;
  validateTogether(config);
  if (config.redis.url && !config.grpc.tlsCert && !onLoopback(config)) {
    warnings.push(
      'the peer link between nodes is plaintext and leaves this host: the cluster secret ' +
        'crosses the network in the clear; set grpc.tlsCert, grpc.tlsKey and grpc.tlsCa',
    );
  }
  if (config.redis.mode === 'standalone' && config.redis.nodes.length > 0) {
    warnings.push('redis.nodes is ignored with redis.mode standalone (the server is redis.url)');
  }
  return { config, file: existsSync(file) ? file : undefined, warnings };
}

// Whether the peer link listens and is dialled on this host only.
function onLoopback(config: Config): boolean {
  const loopback = (host: string) => /^(127\.|localhost$|::1$|\[::1\]$)/.test(host);
  const advertised = config.grpc.advertise;
  const advertisedHost = advertised?.slice(0, advertised.lastIndexOf(':'));
  return loopback(config.grpc.host) && (advertisedHost === undefined || loopback(advertisedHost));
}

// A relative SQLite path is relative to the config file's folder, as
// dataDir is, not to wherever the command happens to run.
function sqliteRelativeTo(folder: string, url: string | undefined): string | undefined {
  if (!url?.startsWith('sqlite:')) return url;
  const file = url.slice('sqlite:'.length);
  return file === ':memory:' ? url : `sqlite:${path.resolve(folder, file)}`;
}

function readYaml(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new PrimError('BAD_PARAMETER', `${file} must hold a mapping of keys`);
  }
  return parsed as Record<string, unknown>;
}

// What a YAML value is, for a message that must not show it (a section
// given a string may hold a URL with a password, or the cluster secret).
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

// A section (grpc, http, …) holds keys, and a key holds one value, or a
// list where it takes one. Given otherwise, the keys would be read as
// unknown and ignored, and the node would start on the defaults the file
// meant to change; a one-item list would be read as its item.
function checkShapes(raw: Record<string, unknown>): void {
  const sections = new Map<string, KeySpec[]>();
  for (const spec of KEYS) {
    const [section, rest] = spec.key.split('.');
    if (rest === undefined) {
      checkValueShape(spec, raw[spec.key]);
    } else {
      sections.set(section, [...(sections.get(section) ?? []), spec]);
    }
  }

  for (const [section, specs] of sections) {
    const value = raw[section];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      const keys = specs.map((spec) => spec.key.slice(section.length + 1));
      throw new PrimError(
        'BAD_PARAMETER',
        `${section} must be a mapping of its keys (${keys.join(', ')}), not ${kindOf(value)}`,
      );
    }
    const given = value as Record<string, unknown>;
    for (const spec of specs) {
      checkValueShape(spec, given[spec.key.slice(section.length + 1)]);
    }
  }
}

function checkValueShape(spec: KeySpec, value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value) && spec.list) return;
  throw new PrimError('BAD_PARAMETER', `${spec.key} must be a single value, not ${kindOf(value)}`);
}

// A nested mapping becomes dotted keys; lists and scalars are leaves.
function flatten(input: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    // A key with nothing after it (a section whose keys are all commented
    // out) is unset, not a value.
    if (value === null) continue;
    if (typeof value === 'object' && !Array.isArray(value)) {
      Object.assign(out, flatten(value as Record<string, unknown>, dotted));
    } else {
      out[dotted] = value;
    }
  }
  return out;
}

function unflatten(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, Record<string, unknown> | unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const parts = key.split('.');
    let node = out as Record<string, unknown>;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

function validateTogether(config: Config): void {
  if (config.tokens.defaultTtl > config.tokens.maxTtl) {
    throw new PrimError(
      'BAD_PARAMETER',
      `tokens.defaultTtl (${formatDuration(config.tokens.defaultTtl)}) must not be longer ` +
        `than tokens.maxTtl (${formatDuration(config.tokens.maxTtl)})`,
    );
  }
  if (config.redis.url && !config.cluster.secret) {
    throw new PrimError(
      'BAD_PARAMETER',
      'cluster.secret is required when redis.url is set (cluster mode)',
    );
  }
  const tls = { 'grpc.tlsCert': config.grpc.tlsCert, 'grpc.tlsKey': config.grpc.tlsKey };
  const missing = Object.entries({ ...tls, 'grpc.tlsCa': config.grpc.tlsCa })
    .filter(([, file]) => file === undefined)
    .map(([key]) => key);
  if (missing.length === 1 || missing.length === 2) {
    throw new PrimError(
      'BAD_PARAMETER',
      `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: ` +
        'grpc.tlsCert, grpc.tlsKey and grpc.tlsCa go together (all three for TLS between ' +
        'nodes, or none)',
    );
  }
  const wildcard = ['0.0.0.0', '::', '[::]'].includes(config.grpc.host);
  if (config.redis.url && wildcard && !config.grpc.advertise) {
    throw new PrimError(
      'BAD_PARAMETER',
      `grpc.advertise is required when grpc.host is ${config.grpc.host}: other nodes need ` +
        'the address to dial this one at, like 10.0.0.5:9001',
    );
  }
  // Both listen, and the second to bind would fail with a message about
  // its own port that hides why. Two hosts of one machine could share a
  // port, but not with 0.0.0.0 on either side; a port each is simplest.
  const { port } = config.grpc;
  if (config.redis.url && port !== 0 && port === config.http.port) {
    throw new PrimError(
      'BAD_PARAMETER',
      `grpc.port and http.port are both ${port}: in cluster mode the peer link and ` +
        'HTTP each need a port of their own; change one of them',
    );
  }
  if (config.redis.mode !== 'standalone' && config.redis.nodes.length === 0) {
    throw new PrimError(
      'BAD_PARAMETER',
      `redis.mode ${config.redis.mode} needs redis.nodes: the ` +
        (config.redis.mode === 'sentinel' ? 'Sentinels' : 'cluster nodes to start from') +
        ' as host:port',
    );
  }
}
