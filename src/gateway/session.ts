// One /acc connection. It becomes a session (in the glossary's sense) once
// it is authenticated; frames on it are handled strictly one after another.
import type { WebSocket } from 'ws';
import type { TokenClaims } from '../auth/tokens.js';
import { CloseCode } from '../errors.js';
import { encodeFrame } from './protocol.js';

// Frames queued before the socket stops reading, so that a client that
// floods frames is slowed by TCP instead of growing the queue.
const MAX_QUEUED_FRAMES = 64;

export class Session {
  claims: TokenClaims | undefined;
  lastSeen = Date.now();
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closing = false;
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    readonly connId: string,
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    private readonly messagesPerSecond: number,
  ) {
    this.tokens = messagesPerSecond;
  }

  get tenant(): string {
    return this.claims?.tenant ?? '';
  }

  get userId(): string {
    return this.claims?.userId ?? '';
  }

  get platform(): string {
    return this.claims?.platform ?? '';
  }

  get open(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  // Runs `work` after every frame handed in before it.
  enqueue(work: () => Promise<void>): void {
    this.queued += 1;
    if (this.queued === MAX_QUEUED_FRAMES) this.socket.pause();
    this.tail = this.tail.then(work).finally(() => {
      this.queued -= 1;
      if (this.queued === MAX_QUEUED_FRAMES - 1) this.socket.resume();
    });
  }

  // Resolves once every queued frame is handled.
  settled(): Promise<void> {
    return this.tail;
  }

  // A receiver with more unsent data than limits.maxBufferedBytes is closed
  // rather than buffered without bound; it reconnects and syncs.
  send(data: string | Buffer): boolean {
    if (!this.open) return false;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.close(CloseCode.TOO_SLOW, 'too slow to keep up; reconnect and sync');
      return false;
    }
    this.socket.send(data);
    return true;
  }

  // A token bucket of limits.messagesPerSecond for `msg` frames.
  takeMessageToken(now = Date.now()): boolean {
    const elapsed = (now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.messagesPerSecond, this.tokens + elapsed * this.messagesPerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  // The client learns why before the close frame arrives, unless it asked
  // to leave itself.
  close(code: number, reason: string, notify = true): void {
    if (this.closing) return;
    if (notify && this.socket.readyState === this.socket.OPEN) {
      this.socket.send(encodeFrame('', 'exit', { reason }));
    }
    this.closing = true;
    // A close reason is limited to 123 bytes by RFC 6455.
    this.socket.close(code, reason.slice(0, 120));
  }
}
