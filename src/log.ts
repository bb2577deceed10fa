// The one logging module. Messages are fixed lowercase phrases; data goes in
// fields (tenant, userId, connId, code, durationMs). Secrets never reach a
// log line: known secret fields are redacted by path, and the token query
// parameter is cut out of logged URLs.
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'token',
  'authCode',
  'adminKey',
  'secret',
  '*.token',
  '*.authCode',
  '*.adminKey',
  '*.secret',
  'req.headers.authorization',
  'req.headers.cookie',
];

// Tokens in query strings and credentials in URLs (mongodb://user:pass@…).
export function redactUrl(url: string): string {
  return (
    url
      .replace(/([?&](?:token|authCode)=)[^&#]*/gi, '$1[Redacted]')
      // Up to the last "@" before the query: a password may hold an "@" or a
      // "/" that was not percent-encoded.
      .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^?#]*@/i, '$1[Redacted]@')
  );
}

export interface LoggerOptions {
  level: string;
  // Pretty lines for a person at a terminal; JSON lines otherwise.
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? (process.stderr.isTTY && !process.env.CI);
  const base: pino.LoggerOptions = {
    level: options.level,
    base: undefined,
    redact: { paths: REDACT, censor: '[Redacted]' },
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({
        method: req.method,
        url: redactUrl(req.url),
        ip: req.ip,
      }),
      err: pino.stdSerializers.err,
    },
  };
  if (options.destination) return pino(base, options.destination);
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: !process.env.NO_COLOR },
      },
    });
  }
  // Logs go to stderr: stdout belongs to command results.
  return pino(base, pino.destination(2));
}

// A warning that may repeat fast (a peer that keeps failing, a caller with
// a wrong secret): logged once per topic every `everyMs`, with how many
// were left out since the last line.
export function throttledWarn(log: Logger, everyMs = 5000) {
  const last = new Map<string, { at: number; skipped: number }>();
  return (topic: string, fields: object, message: string): void => {
    const now = Date.now();
    const seen = last.get(topic);
    if (seen && now - seen.at < everyMs) {
      seen.skipped += 1;
      return;
    }
    if (last.size > 1000) last.clear();
    last.set(topic, { at: now, skipped: 0 });
    log.warn(seen?.skipped ? { ...fields, alike: seen.skipped } : fields, message);
  };
}
