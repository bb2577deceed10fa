// One bench user's /acc connection: sends messages, matches acks to them by
// seq, and times the pushes it receives from the stamp inside their text.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { errorForCode, ErrorKinds, PrimError } from '../errors.js';

const RATE_LIMITED = ErrorKinds.RATE_LIMITED.code;
const BACKOFF_MS = 100;
import type { Tally } from './tally.js';

// A node that has not welcomed a connection by then is not keeping up
// with the ones it has.
const WELCOME_TIMEOUT_MS = 10_000;
// A close handshake the node does not finish in this time is cut.
const CLOSE_TIMEOUT_MS = 2000;

// The text of a message: the send time on this process's monotonic clock,
// then padding up to `size` bytes. Sender and receiver both live in this
// process, so the two readings of the clock are comparable.
export function messageText(size: number, padding: string): string {
  const stamp = performance.now().toFixed(3);
  return `${stamp} ${padding.slice(0, Math.max(0, size - stamp.length - 1))}`;
}

function sentAt(text: unknown): number {
  return typeof text === 'string' ? Number.parseFloat(text) : Number.NaN;
}

export class BenchConnection {
  // Called when a message is settled (acked or refused), so that a sender
  // that waits for acks can send its next one.
  onSettled: () => void = () => {};
  private readonly inFlight = new Map<number, number>();
  private seq = 0;
  private closing = false;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    private readonly socket: WebSocket,
    private readonly tally: Tally,
  ) {}

  // Resolves once the node has sent `welcome`; `origin` names the node in
  // errors without the token that the URL carries.
  static open(url: string, origin: string, tally: Tally): Promise<BenchConnection> {
    const socket = new WebSocket(url);
    const connection = new BenchConnection(socket, tally);
    return new Promise((resolve, reject) => {
      const fail = (error: PrimError) => {
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      const failWith = (message: string) => fail(new PrimError('OPERATION_FAILED', message));
      const timer = setTimeout(
        () => failWith(`${origin} sent no welcome on /acc within ${WELCOME_TIMEOUT_MS} ms`),
        WELCOME_TIMEOUT_MS,
      );
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk));
        response.on('end', () => fail(upgradeRefused(origin, response.statusCode, body)));
      });
      socket.on('error', (err) => failWith(`cannot open /acc at ${origin}: ${err.message}`));
      socket.once('close', (code, reason) => {
        failWith(`${origin} closed /acc with ${code} (${String(reason)}) before its welcome`);
      });
      socket.once('message', (data) => {
        const frame = parseFrame(String(data));
        if (frame?.action !== 'welcome') {
          failWith(`${origin} sent no welcome on /acc`);
          return;
        }
        clearTimeout(timer);
        socket.removeAllListeners();
        connection.start(Number(frame.msg?.heartbeatInterval));
        resolve(connection);
      });
    });
  }

  get pending(): number {
    return this.inFlight.size;
  }

  get open(): boolean {
    return !this.closing && this.socket.readyState === WebSocket.OPEN;
  }

  send(receiverId: string, message: string): boolean {
    if (!this.open) return false;
    this.seq += 1;
    this.inFlight.set(this.seq, performance.now());
    this.socket.send(
      JSON.stringify({ seq: this.seq, action: 'msg', msg: { receiverId, message } }),
    );
    this.tally.sent += 1;
    return true;
  }

  close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.terminate(), CLOSE_TIMEOUT_MS);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(1000);
    });
  }

  private start(heartbeatInterval: number): void {
    this.socket.on('message', (data) => this.onFrame(String(data)));
    // An error is always followed by a close, which is where it is counted.
    this.socket.on('error', () => {});
    this.socket.on('close', (code) => {
      clearInterval(this.heartbeat);
      if (this.closing) return;
      this.tally.error(`close ${code}`);
      // Those messages will never be acked; the run must not wait for them.
      this.inFlight.clear();
      this.onSettled();
    });
    // Receivers that only listen are silent, and the node closes silent
    // sessions after ws.heartbeatTimeout; runs may last longer than that.
    if (Number.isFinite(heartbeatInterval) && heartbeatInterval > 0) {
      this.heartbeat = setInterval(() => {
        if (this.open) this.socket.send('{"seq":"hb","action":"heartbeat"}');
      }, heartbeatInterval);
    }
  }

  private onFrame(data: string): void {
    const frame = parseFrame(data);
    if (!frame) {
      this.tally.error('bad frame');
      return;
    }
    const now = performance.now();
    switch (frame.action) {
      case 'ack': {
        const started = this.settle(frame.seq);
        if (started === undefined) return;
        this.tally.acked += 1;
        this.tally.ackLatency.record(now - started);
        if (frame.msg?.delivered === true) this.tally.expectedPushes += 1;
        this.onSettled();
        return;
      }
      case 'msg': {
        const started = sentAt(frame.msg?.message);
        if (Number.isNaN(started)) return;
        this.tally.delivered += 1;
        this.tally.deliveryLatency.record(now - started);
        return;
      }
      case 'error': {
        this.tally.error(`error ${String(frame.msg?.code)}`);
        if (this.settle(frame.seq) === undefined) return;
        // A rate-limited sender waits before its next message instead of
        // answering each refusal with another frame.
        if (frame.msg?.code === RATE_LIMITED) setTimeout(() => this.onSettled(), BACKOFF_MS);
        else this.onSettled();
        return;
      }
    }
  }

  // The send time of a message in flight, which is then no longer in flight.
  private settle(seq: unknown): number | undefined {
    if (typeof seq !== 'number') return undefined;
    const started = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    return started;
  }
}

interface ServerFrame {
  seq?: unknown;
  action?: unknown;
  msg?: any;
}

function parseFrame(data: string): ServerFrame | undefined {
  try {
    const frame: unknown = JSON.parse(data);
    return frame !== null && typeof frame === 'object' ? (frame as ServerFrame) : undefined;
  } catch {
    return undefined;
  }
}

// The node answers a refused upgrade with prim's envelope and the code.
function upgradeRefused(origin: string, status: number | undefined, body: string): PrimError {
  try {
    const envelope = JSON.parse(body) as { code: number; msg: string };
    return errorForCode(envelope.code, `${origin} refused /acc: ${envelope.msg}`);
  } catch {
    return new PrimError('OPERATION_FAILED', `${origin} refused /acc with HTTP ${status}`);
  }
}
