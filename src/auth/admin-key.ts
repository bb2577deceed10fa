// The operator's admin key: from config, else generated once into
// <dataDir>/admin.key (mode 0600).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { newSecret } from './secrets.js';

export interface AdminKey {
  key: string;
  // True when this call generated the key, so that it is shown once.
  generated: boolean;
  file: string | undefined;
}

// The key a node on this config uses, without generating one: for the CLI
// commands that talk to that node.
export function existingAdminKey(configured: string | undefined, dataDir: string) {
  if (configured) return configured;
  const file = path.join(dataDir, 'admin.key');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

export function resolveAdminKey(configured: string | undefined, dataDir: string): AdminKey {
  if (configured) return { key: configured, generated: false, file: undefined };
  const file = path.join(dataDir, 'admin.key');
  if (existsSync(file)) {
    return { key: readFileSync(file, 'utf8').trim(), generated: false, file };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = newSecret();
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { key, generated: true, file };
}
