// How a CLI run ends. Every error that leaves a command comes here and
// becomes one exit status: 0 success, 1 failure, 2 usage error.
import { CommanderError } from 'commander';
import { ErrorKinds, isPrimError } from '../errors.js';
import { VERSION } from '../version.js';
import type { Output } from './output.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

// A command line that cannot be run as given; the message names the flag.
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// Commander's own outcomes that are not errors at all.
const COMMANDER_DONE = new Set(['commander.helpDisplayed', 'commander.version']);

// Prints what went wrong and returns the exit status for it.
export function reportFailure(err: unknown, out: Output): number {
  if (err instanceof CommanderError) {
    if (COMMANDER_DONE.has(err.code)) return EXIT_OK;
    // `prim help tenant` asked for help (exit code 0); `prim tenant` alone
    // is missing its subcommand, and commander has shown the help on stderr.
    if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    return usage(err.message.replace(/^error: /, ''), out);
  }
  if (err instanceof UsageError) return usage(err.message, out);

  if (isPrimError(err)) {
    out.error({ code: err.code, kind: err.kind, message: err.message });
    return EXIT_FAILURE;
  }
  if (isPromptCancel(err)) {
    out.error({ ...serverError('CANCELLED'), message: 'cancelled; nothing was changed' });
    return EXIT_FAILURE;
  }
  // Node's system errors (EACCES, ENOSPC, SQLITE_BUSY …) are failures of the
  // environment, not of prim: their message says enough.
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string') {
    out.error({ ...serverError(code), message: err.message });
    return EXIT_FAILURE;
  }
  return crash(err, out);
}

function usage(message: string, out: Output): number {
  out.error({ code: ErrorKinds.BAD_PARAMETER.code, kind: 'USAGE', message });
  out.hint('(add --help for usage)');
  return EXIT_USAGE;
}

function serverError(kind: string) {
  return { code: ErrorKinds.SERVER_ERROR.code, kind };
}

// @inquirer/prompts rejects with ExitPromptError on Ctrl-C.
function isPromptCancel(err: unknown): boolean {
  return err instanceof Error && err.name === 'ExitPromptError';
}

// A bug in prim: a short report that is worth pasting into an issue.
function crash(err: unknown, out: Output): number {
  const stack = err instanceof Error ? (err.stack ?? String(err)) : String(err);
  out.error({ ...serverError('CRASH'), message: `prim crashed: ${stack.split('\n')[0]}` });
  out.diagnostic(
    [
      ...stack.split('\n').slice(1, 6),
      `prim ${VERSION}, Node ${process.version}, ${process.platform} ${process.arch}`,
      'This is a bug in prim. Please report it with the command you ran and these lines.',
    ].join('\n'),
  );
  return EXIT_FAILURE;
}
