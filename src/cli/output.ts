// Where the CLI's words go. Results go to stdout, diagnostics (warnings,
// hints, progress, errors) to stderr, so that `prim … | jq` and
// `TOKEN=$(prim token issue …)` see only the result. With --json, stdout
// carries exactly one JSON document and nothing else.
import { Chalk, type ChalkInstance } from 'chalk';

export interface Streams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

// Whether each stream gets colour. They are decided apart: `prim … 2>err.txt`
// on a terminal colours what it shows and keeps the file plain.
export interface Colour {
  stdout: boolean;
  stderr: boolean;
}

// Decided once per run and stream. NO_COLOR (no-color.org) wins; FORCE_COLOR
// is the other convention tools follow; otherwise colour only for a terminal.
export function colourWanted(env: NodeJS.ProcessEnv, stream: { isTTY?: boolean }): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR);
  return Boolean(stream.isTTY);
}

export function colourFor(
  env: NodeJS.ProcessEnv,
  streams: { stdout: { isTTY?: boolean }; stderr: { isTTY?: boolean } },
): Colour {
  return { stdout: colourWanted(env, streams.stdout), stderr: colourWanted(env, streams.stderr) };
}

export interface ErrorDocument {
  code: number;
  kind: string;
  message: string;
}

export class Output {
  // Set from the parsed --json flag before a command runs.
  json = false;
  // One painter per stream, each as colourful as that stream may be.
  readonly paint: { stdout: ChalkInstance; stderr: ChalkInstance };
  private resultWritten = false;

  constructor(
    private readonly streams: Streams,
    colour: Colour,
  ) {
    this.paint = {
      stdout: new Chalk({ level: colour.stdout ? 1 : 0 }),
      stderr: new Chalk({ level: colour.stderr ? 1 : 0 }),
    };
  }

  // A command's result: `value` as JSON with --json, else the human text.
  result(value: unknown, human: () => string | string[]): void {
    if (this.json) {
      this.writeJson(value);
      return;
    }
    const text = human();
    const lines = Array.isArray(text) ? text : [text];
    if (lines.length > 0) this.streams.stdout.write(`${lines.join('\n')}\n`);
    this.resultWritten = true;
  }

  info(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  hint(text: string): void {
    this.streams.stderr.write(`${this.paint.stderr.dim(text)}\n`);
  }

  warn(text: string): void {
    this.streams.stderr.write(`${this.paint.stderr.yellow('warning:')} ${text}\n`);
  }

  // With --json the error is the one document on stdout, unless a result
  // already took that place; the person at the terminal sees it on stderr.
  error(error: ErrorDocument): void {
    if (this.json && !this.resultWritten) {
      this.writeJson({ error });
      return;
    }
    this.streams.stderr.write(`${this.paint.stderr.red('error:')} ${error.message}\n`);
  }

  // Raw text on stderr, for reports that are already formatted.
  diagnostic(text: string): void {
    this.streams.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  // Resolves once both streams have handed their data to the OS, so that
  // exiting right after loses nothing when they are pipes.
  async flush(): Promise<void> {
    await Promise.all(
      [this.streams.stdout, this.streams.stderr].map(
        (stream) => new Promise<void>((resolve) => stream.write('', () => resolve())),
      ),
    );
  }

  private writeJson(value: unknown): void {
    if (this.resultWritten) throw new Error('a second JSON document was about to be written');
    this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    this.resultWritten = true;
  }
}

// Columns padded to their widest cell, with a header row.
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(headers.map((header) => header.toUpperCase())), ...rows.map(line)];
}

// Two columns of `name  value`, for showing one record.
export function fields(record: Array<[string, string]>): string[] {
  const width = Math.max(...record.map(([name]) => name.length));
  return record.map(([name, value]) => `${name.padEnd(width)}  ${value}`.trimEnd());
}

export function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString();
}

// An elapsed time the way people read it: 0.4s and 12.3s when short,
// 3m 12s and 5h 2m when long.
export function elapsed(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours > 0 ? `${hours}h ${minutes}m` : `${minutes}m ${seconds % 60}s`;
}
