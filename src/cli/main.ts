// The `prim` command line. main() is the one way out of the process: every
// command returns or throws to it, and the exit status is decided here.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { examples } from './context.js';
import { registerBench } from './bench.js';
import { registerDaemon } from './daemon.js';
import { EXIT_OK, reportFailure } from './failure.js';
import { registerInit } from './init.js';
import { registerMsg } from './msg.js';
import { registerNodes } from './nodes.js';
import { colourFor, Output } from './output.js';
import { registerServe } from './serve.js';
import { registerTenant } from './tenant.js';
import { registerToken } from './token.js';
import { registerUser } from './user.js';

export function buildProgram(out: Output): Command {
  const program = new Command('prim')
    .description('a self-hosted, multi-tenant instant-messaging server')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--config <path>', 'config file (default: $PRIM_CONFIG, else ./prim.yaml)')
    // Settings made before .command() are inherited by every subcommand.
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      examples(
        'prim init --yes',
        'prim serve',
        'prim tenant create acme',
        'prim token issue --tenant acme --user alice',
        'prim msg send --tenant acme --to alice --text "hello"',
      ) +
        '\n\nExit status: 0 success, 1 failure, 2 usage error.' +
        '\nResults go to stdout, diagnostics to stderr; --json prints one JSON document.',
    );

  // The flag as parsed decides how the command's result and errors print.
  program.hook('preAction', (_program, command) => {
    out.json = Boolean(command.opts().json);
  });

  registerInit(program, out);
  registerServe(program, out);
  registerDaemon(program, out);
  registerTenant(program, out);
  registerToken(program, out);
  registerUser(program, out);
  registerMsg(program, out);
  registerNodes(program, out);
  registerBench(program, out);
  return program;
}

// Before commander has parsed anything, a usage error still owes a caller
// who asked for --json its one document.
function jsonRequested(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

export async function main(argv: string[]): Promise<never> {
  const streams = { stdout: process.stdout, stderr: process.stderr };
  const out = new Output(streams, colourFor(process.env, streams));
  out.json = jsonRequested(argv);

  let status = EXIT_OK;
  try {
    await buildProgram(out).parseAsync(argv);
  } catch (err) {
    status = reportFailure(err, out);
  }
  await out.flush();
  process.exit(status);
}
