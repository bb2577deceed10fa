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
  // When it was authenticated; the replace policy keeps the newest.
  loginAt = 0;
  lastSeen = Date.now();
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closing = false;
  private deaf = false;
  private closedByServer = false;
  private readonly closeListeners: Array<() => void> = [];
  private tokens: number;
  private refilledAt = Date.now();
  // When the frame being handled arrived (frames are handled one at a time).
  private handlingArrivedAt = Date.now();
  // Pushes that arrive between the session's registration and its welcome
  // wait here, so that the welcome is always a session's first push.
  private held: Array<string | Buffer> | undefined;

  constructor(
    readonly connId: string,
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    private readonly messagesPerSecond: number,
  ) {
    this.tokens = messagesPerSecond;
    // A close begun by the client or by the network.
    socket.once('close', () => this.ended());
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

  // True once the server has begun to close the connection (not when the
  // client has).
  get ending(): boolean {
    return this.closedByServer;
  }

  // Runs `work` after every frame handed in before it. `work` answers its
  // own errors: one that rejected would stop every frame after it.
  // `arrivedAt`: when the frame came, which the rate limit counts by.
  enqueue(work: () => Promise<void>, arrivedAt = Date.now()): void {
    if (this.deaf) return;
    this.queued += 1;
    if (this.queued === MAX_QUEUED_FRAMES) this.socket.pause();
    const run = () => {
      this.handlingArrivedAt = arrivedAt;
      return work();
    };
    this.tail = this.tail.then(run).finally(() => {
      this.queued -= 1;
      if (this.queued === MAX_QUEUED_FRAMES - 1 && !this.deaf) this.socket.resume();
    });
  }

  // Frames that arrive from now on are dropped unanswered; those already
  // queued are still handled.
  stopReading(): void {
    this.deaf = true;
    this.socket.pause();
  }

  // The connection is lost to a protocol error: nothing can be answered on
  // it any more, so queued frames are dropped too rather than acted on
  // without an ack.
  abandon(): void {
    this.closedByServer = true;
    this.stopReading();
  }

  // Resolves once nothing is queued, frames that arrive meanwhile included.
  async idle(): Promise<void> {
    while (this.queued > 0) await this.tail;
  }

  // `listener` runs once: as soon as the server begins to close the
  // connection (nothing more is sent on it then), or when the client or the
  // network has closed it.
  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  // A receiver with more unsent data than limits.maxBufferedBytes is closed
  // rather than buffered without bound; it reconnects and syncs.
  send(data: string | Buffer): boolean {
    if (!this.open) return false;
    if (this.held) {
      this.held.push(data);
      return true;
    }
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.close(CloseCode.TOO_SLOW, 'too slow to keep up; reconnect and sync');
      return false;
    }
    // Pushes are Buffers (serialised once per user), which ws would send
    // as binary frames: a browser would get a Blob, not JSON text.
    this.socket.send(data, { binary: false });
    return true;
  }

  holdPushes(): void {
    this.held ??= [];
  }

  // Sends `first`, then what was held meanwhile; without `first` (the
  // welcome could not be sent) the held pushes are dropped: the client
  // syncs them once it has logged in.
  releasePushes(first?: string): void {
    const held = this.held ?? [];
    this.held = undefined;
    if (first === undefined) return;
    this.send(first);
    for (const data of held) this.send(data);
  }

  // A token bucket of limits.messagesPerSecond for `msg` frames, by the
  // time each frame arrived: frames that queued up behind a slow one (a
  // hung Redis, a slow store) were sent at the client's own pace.
  takeMessageToken(now = this.handlingArrivedAt): boolean {
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
    this.closedByServer = true;
    if (notify && this.socket.readyState === this.socket.OPEN) {
      this.socket.send(encodeFrame('', 'exit', { reason }));
    }
    this.closing = true;
    this.socket.close(code, closeReason(reason));
    // The closing handshake needs the client's close frame read; frames
    // still arriving before it are dropped (see `ending`).
    this.socket.resume();
    this.ended();
  }

  // Resolves once the TCP connection is gone.
  get gone(): Promise<void> {
    if (this.socket.readyState === this.socket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  // Drops the connection without waiting for the closing handshake, for a
  // client that no longer reads.
  terminate(): void {
    this.socket.terminate();
  }

  private ended(): void {
    this.closing = true;
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

// A close reason is limited to 123 bytes of UTF-8 by RFC 6455; a longer one
// is cut at a character boundary (ws throws on more).
const MAX_CLOSE_REASON_BYTES = 123;

export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let cut = '';
  for (const char of reason) {
    if (Buffer.byteLength(cut + char) > MAX_CLOSE_REASON_BYTES) break;
    cut += char;
  }
  return cut;
}
