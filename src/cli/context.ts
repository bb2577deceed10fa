// What the commands share: the global options, the config with its
// warnings, the store, and whether a person can be asked questions.
import type { Command } from 'commander';
import { Tenants } from '../auth/tenants.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isPrimError } from '../errors.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { UsageError } from './failure.js';
import type { Output } from './output.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  yes?: boolean;
}

export function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function cliConfig(command: Command, out: Output): { config: Config; file?: string } {
  const loaded = loadConfig({ configPath: globalsOf(command).config });
  for (const warning of loaded.warnings) out.warn(warning);
  return { config: loaded.config, file: loaded.file };
}

// Opens the store for one piece of work and always closes it again, so that
// the process can exit and SQLite's WAL is checkpointed.
export async function withTenants<T>(
  config: Config,
  work: (tenants: Tenants, store: Store) => Promise<T>,
): Promise<T> {
  const store = await openStore(config.store.url!);
  try {
    return await work(new Tenants(store), store);
  } finally {
    await store.close();
  }
}

// Questions only for a person at a terminal: never in CI, never when the
// caller asked for JSON or said --yes up front.
export function canPrompt(options: GlobalOptions, env = process.env): boolean {
  return (
    Boolean(process.stdin.isTTY && process.stdout.isTTY) && !options.yes && !options.json && !env.CI
  );
}

// A flag's value checked by the parser config keys use; a bad value is a
// usage error that names the flag.
export function flagValue<T>(
  parse: (name: string, raw: unknown) => T,
  flag: string,
  raw: unknown,
): T {
  try {
    return parse(flag, raw);
  } catch (err) {
    if (isPrimError(err)) throw new UsageError(err.message);
    throw err;
  }
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}`;
}

export function withJson(command: Command): Command {
  return command.option('--json', 'print the result as one JSON document on stdout');
}
