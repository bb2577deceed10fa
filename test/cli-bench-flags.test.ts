import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { freePort, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/node.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test('a --duration longer than a timer can wait is a usage error', async () => {
  const dir = tempDir('prim-cli-bench-');
  dirs.push(dir);
  writeFileSync(path.join(dir, 'prim.yaml'), `http:\n  port: ${await freePort()}\n`);

  const result = await runCli(dir, ['bench', '--admin-key', 'k'.repeat(20), '--duration', '30d']);

  expect(result.code).toBe(2);
  expect(result.stderr).toContain('error: --duration: "30d" is not allowed; use at most 1d');
});
