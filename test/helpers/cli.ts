// Runs the built CLI (`node bin/prim …`) as a real child process, the way a
// user does: in its own folder, without colour, as in CI.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { envWithoutPrim, WatchedProcess } from './process.js';

const BIN = fileURLToPath(new URL('../../bin/prim', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return envWithoutPrim({ NO_COLOR: '1', CI: '1', ...extra });
}

export function runCli(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: cliEnv(env), timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// A long-running CLI process such as `prim serve`.
export class CliProcess extends WatchedProcess {
  constructor(cwd: string, args: string[], env: Record<string, string> = {}) {
    super([BIN, ...args], cwd, cliEnv(env));
  }

  waitForStderr(pattern: RegExp, timeoutMs = 10_000): Promise<string[]> {
    return this.waitFor('stderr', pattern, timeoutMs);
  }
}

export { killProcesses as killCliProcesses } from './process.js';

// A port that was free a moment ago, for a node the CLI must find by
// config (http.port 0 cannot be written into a config others read).
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// The one JSON document a --json run must print on stdout.
export function onlyJson(result: CliResult): any {
  return JSON.parse(result.stdout);
}
