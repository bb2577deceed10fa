// `prim init`: writes prim.yaml from templates/prim.yaml, with a fresh
// admin key and the few answers a first node needs.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { input } from '@inquirer/prompts';
import type { Command } from 'commander';
import { newSecret } from '../auth/secrets.js';
import { resolveConfigPath } from '../config/load.js';
import { KEYS } from '../config/schema.js';
import { PrimError } from '../errors.js';
import { canPrompt, examples, flagValue, globalsOf, withJson } from './context.js';
import { fields, type Output } from './output.js';

const TEMPLATE = new URL('../../templates/prim.yaml', import.meta.url);
const DEFAULT_HTTP_PORT = 8093;

interface InitOptions {
  yes?: boolean;
  force?: boolean;
  json?: boolean;
  httpPort?: string;
  storeUrl?: string;
  redisUrl?: string;
}

export interface InitAnswers {
  httpPort: number;
  storeUrl?: string;
  redisUrl?: string;
}

// The same checks the config loader applies to the key, so that init never
// writes a file that serve then refuses.
function parserOf(key: string) {
  return KEYS.find((spec) => spec.key === key)!.parse;
}

function fromFlags(options: InitOptions): InitAnswers {
  const optional = (key: string, flag: string, raw: string | undefined) =>
    raw === undefined ? undefined : (flagValue(parserOf(key), flag, raw) as string);
  return {
    httpPort: flagValue(
      parserOf('http.port'),
      '--http-port',
      options.httpPort ?? DEFAULT_HTTP_PORT,
    ),
    storeUrl: optional('store.url', '--store-url', options.storeUrl),
    redisUrl: optional('redis.url', '--redis-url', options.redisUrl),
  } as InitAnswers;
}

// inquirer wants true or the reason; an empty answer means "not set".
function validator(key: string, optional: boolean) {
  return (value: string) => {
    if (optional && value.trim() === '') return true;
    try {
      parserOf(key)(key, value);
      return true;
    } catch (err) {
      return (err as Error).message;
    }
  };
}

async function ask(given: InitAnswers): Promise<InitAnswers> {
  const port = await input({
    message: 'HTTP port (http.port)',
    default: String(given.httpPort),
    validate: validator('http.port', false),
  });
  const storeUrl = await input({
    message: 'Store URL (store.url; empty for SQLite in dataDir)',
    default: given.storeUrl ?? '',
    validate: validator('store.url', true),
  });
  const redisUrl = await input({
    message: 'Redis URL (redis.url; empty for a single node)',
    default: given.redisUrl ?? '',
    validate: validator('redis.url', true),
  });
  return {
    httpPort: parserOf('http.port')('http.port', port) as number,
    storeUrl: storeUrl.trim() || undefined,
    redisUrl: redisUrl.trim() || undefined,
  };
}

// JSON strings are valid YAML double-quoted scalars, whatever they hold.
const quote = (value: string) => JSON.stringify(value);

// A section whose keys are all unset is written commented out as a whole:
// a mapping left empty would be read as a null value.
function section(name: string, key: string, value: string | undefined, example: string): string {
  return value === undefined
    ? `# ${name}:\n#   ${key}: ${example}`
    : `${name}:\n  ${key}: ${quote(value)}`;
}

export function renderConfig(template: string, answers: InitAnswers, adminKey: string): string {
  // Cluster mode refuses to start without a shared secret; write one.
  const clusterSecret = answers.redisUrl ? newSecret() : undefined;
  const values: Record<string, string> = {
    adminKey: quote(adminKey),
    httpPort: String(answers.httpPort),
    store: section('store', 'url', answers.storeUrl, 'mongodb://127.0.0.1:27017/prim'),
    redisUrl: answers.redisUrl
      ? `url: ${quote(answers.redisUrl)}`
      : '# url: redis://127.0.0.1:6379',
    clusterSecret: clusterSecret
      ? `secret: ${quote(clusterSecret)}`
      : '# secret: <16 or more characters, alike on every node>',
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    if (values[name] === undefined) throw new Error(`no value for {{${name}}} in the template`);
    return values[name];
  });
}

async function runInit(options: InitOptions, command: Command, out: Output): Promise<void> {
  const globals = globalsOf(command);
  const file = resolveConfigPath({ configPath: globals.config });
  if (existsSync(file) && !options.force) {
    throw new PrimError(
      'OPERATION_FAILED',
      `${file} already exists; add --force to overwrite it (its admin key is then lost)`,
    );
  }

  let answers = fromFlags(options);
  if (canPrompt(globals)) answers = await ask(answers);

  const adminKey = newSecret();
  const text = renderConfig(readFileSync(TEMPLATE, 'utf8'), answers, adminKey);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o600 });
  // The mode above applies only to a new file; --force may replace one.
  chmodSync(file, 0o600);

  out.result({ config: file, adminKey }, () => file);
  const secrets = answers.redisUrl
    ? 'a fresh admin key (adminKey) and cluster secret (cluster.secret)'
    : 'a fresh admin key (adminKey)';
  out.info(`wrote ${file} with ${secrets}; keep the file private`);
  const flag = globals.config === undefined ? '' : ` --config ${globals.config}`;
  const steps = fields([
    [`prim serve${flag}`, 'run the node'],
    [`prim tenant create <account>${flag}`, 'create a tenant and its authCode'],
    [`prim token issue --tenant <account> --user <userId>${flag}`, 'a connection token'],
  ]);
  out.hint(['next steps:', ...steps.map((step) => `  ${step}`)].join('\n'));
}

export function registerInit(program: Command, out: Output): void {
  const init = program
    .command('init')
    .description('write prim.yaml (or the --config path) with a fresh admin key')
    .option('-y, --yes', 'ask nothing; take the flags and the defaults')
    .option('--force', 'overwrite an existing config file')
    .option('--http-port <port>', `http.port to write (default ${DEFAULT_HTTP_PORT})`)
    .option('--store-url <url>', 'store.url to write (default: SQLite in dataDir)')
    .option('--redis-url <url>', 'redis.url to write; turns on cluster mode');
  withJson(init)
    .addHelpText(
      'after',
      examples(
        'prim init                                 # asks for the port and the store',
        'prim init --yes --http-port 8080',
        'prim init --config /etc/prim/prim.yaml --store-url mongodb://db:27017/prim',
      ),
    )
    .action((options: InitOptions, command: Command) => runInit(options, command, out));
}
