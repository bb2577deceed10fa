// The CLI's output rules, in-process: where words go, colour, tables and
// the exit status each kind of failure gets.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { expect, test } from 'vitest';
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  reportFailure,
  UsageError,
} from '../src/cli/failure.js';
import { colourFor, colourWanted, Output, table, type Streams } from '../src/cli/output.js';
import { PrimError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { tempDir } from './helpers/node.js';

function capture(colour = false) {
  const written = { stdout: '', stderr: '' };
  const stream = (name: 'stdout' | 'stderr') => ({
    write(chunk: string, done?: () => void) {
      written[name] += chunk;
      done?.();
      return true;
    },
  });
  const streams = { stdout: stream('stdout'), stderr: stream('stderr') } as unknown as Streams;
  return { out: new Output(streams, { stdout: colour, stderr: colour }), written };
}

test('colour is off with NO_COLOR or without a terminal, on for a terminal', () => {
  expect(colourWanted({}, { isTTY: true })).toBe(true);
  expect(colourWanted({}, { isTTY: false })).toBe(false);
  expect(colourWanted({ NO_COLOR: '1' }, { isTTY: true })).toBe(false);
  expect(colourWanted({ FORCE_COLOR: '1' }, { isTTY: false })).toBe(true);
  expect(colourWanted({ NO_COLOR: '1', FORCE_COLOR: '1' }, { isTTY: true })).toBe(false);
});

test('each stream gets colour from being a terminal itself', () => {
  const terminal = { isTTY: true };
  const file = { isTTY: false };

  expect(colourFor({}, { stdout: terminal, stderr: file })).toEqual({
    stdout: true,
    stderr: false,
  });
  expect(colourFor({}, { stdout: file, stderr: terminal })).toEqual({
    stdout: false,
    stderr: true,
  });
  expect(colourFor({ NO_COLOR: '1' }, { stdout: terminal, stderr: terminal })).toEqual({
    stdout: false,
    stderr: false,
  });
  expect(colourFor({ FORCE_COLOR: '1' }, { stdout: file, stderr: file })).toEqual({
    stdout: true,
    stderr: true,
  });
});

const BIN = fileURLToPath(new URL('../bin/prim', import.meta.url));

// `prim <args> 2>err.txt` with the other stream on a terminal, or stderr on
// one; node cannot open a pseudo-terminal, so a preloaded module makes the
// stream say it is one, which is all the CLI asks of it.
async function runWithTerminal(args: string[], terminal: 'stdout' | 'stderr') {
  const dir = tempDir('prim-colour-');
  const errFile = path.join(dir, 'err.txt');
  const errFd = openSync(errFile, 'w');
  try {
    const env: NodeJS.ProcessEnv = { CI: '1' };
    for (const [name, value] of Object.entries(process.env)) {
      if (!/^(PRIM_|NO_COLOR$|FORCE_COLOR$)/.test(name)) env[name] = value;
    }
    const preload = encodeURIComponent(`process.${terminal}.isTTY = true;`);
    const pretend = `data:text/javascript,${preload}`;
    const child = spawn(process.execPath, ['--import', pretend, BIN, ...args], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', errFd],
    });
    let stdout = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, stderr: readFileSync(errFile, 'utf8') };
  } finally {
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an error redirected to a file from a terminal has no escape codes in it', async () => {
  const run = await runWithTerminal(['tenant', 'show', 'nope'], 'stdout');

  expect(run.code).toBe(1);
  expect(run.stderr).toBe('error: tenant "nope" does not exist\n');
});

test('an error on a terminal is coloured', async () => {
  const run = await runWithTerminal(['tenant', 'show', 'nope'], 'stderr');

  expect(run.code).toBe(1);
  expect(run.stderr).toBe('\u001b[31merror:\u001b[39m tenant "nope" does not exist\n');
});

test('results go to stdout and diagnostics to stderr', () => {
  const { out, written } = capture();

  out.result({ ok: true }, () => ['line one', 'line two']);
  out.warn('careful');
  out.info('note');

  expect(written.stdout).toBe('line one\nline two\n');
  expect(written.stderr).toBe('warning: careful\nnote\n');
});

test('with --json the result is the one document and later errors go to stderr', () => {
  const { out, written } = capture();
  out.json = true;

  out.result({ token: 't' }, () => 'ignored');
  out.error({ code: 1004, kind: 'X', message: 'late' });

  expect(JSON.parse(written.stdout)).toEqual({ token: 't' });
  expect(written.stderr).toBe('error: late\n');
});

test('colour marks errors and warnings only when wanted', () => {
  const plain = capture(false);
  plain.out.warn('w');
  expect(plain.written.stderr).toBe('warning: w\n');

  const coloured = capture(true);
  coloured.out.warn('w');
  expect(coloured.written.stderr).toBe('\u001b[33mwarning:\u001b[39m w\n');
});

test('tables pad every column but the last to its widest cell', () => {
  expect(
    table(
      ['user id', 'platforms'],
      [
        ['alice', 'web, ios'],
        ['bo', ''],
      ],
    ),
  ).toEqual(['USER ID  PLATFORMS', 'alice    web, ios', 'bo']);
});

test('each kind of failure gets its exit status', () => {
  const { out, written } = capture();

  expect(reportFailure(new PrimError('NOT_FOUND', 'tenant "x" does not exist'), out)).toBe(
    EXIT_FAILURE,
  );
  expect(reportFailure(new UsageError('add --yes to confirm'), out)).toBe(EXIT_USAGE);
  const unknown = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'");
  expect(reportFailure(unknown, out)).toBe(EXIT_USAGE);
  const help = new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)');
  expect(reportFailure(help, out)).toBe(EXIT_OK);
  const system = Object.assign(new Error('EACCES: permission denied, open /etc/x'), {
    code: 'EACCES',
  });
  expect(reportFailure(system, out)).toBe(EXIT_FAILURE);

  expect(written.stderr.split('\n')).toEqual([
    'error: tenant "x" does not exist',
    'error: add --yes to confirm',
    '(add --help for usage)',
    "error: unknown option '--x'",
    '(add --help for usage)',
    'error: EACCES: permission denied, open /etc/x',
    '',
  ]);
});

test('an unexpected crash prints a short report with the versions', () => {
  const { out, written } = capture();

  const status = reportFailure(new TypeError('boom is not a function'), out);

  expect(status).toBe(EXIT_FAILURE);
  expect(written.stderr).toContain('error: prim crashed: TypeError: boom is not a function\n');
  expect(written.stderr).toContain(`prim ${VERSION}, Node ${process.version}`);
  expect(written.stderr).toContain('This is a bug in prim.');
  expect(written.stderr.split('\n').length).toBeLessThan(12);
});
