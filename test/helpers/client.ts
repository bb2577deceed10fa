// A real WebSocket client for /acc that awaits frames instead of sleeping.
import WebSocket from 'ws';

export interface Frame {
  seq: string | number;
  action: string;
  msg?: any;
}

export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private seq = 0;

  // Frames that came as binary WebSocket frames: prim sends JSON text only,
  // and a browser would get a Blob. Checked by closeClients().
  binaryFrames = 0;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames += 1;
      const frame = JSON.parse(String(data)) as Frame;
      const waiter = this.waiters.find((w) => w.match(frame));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
  }

  // The next frame (already received or still to come) that matches.
  next(match: string | ((f: Frame) => boolean) = () => true, timeoutMs = 5000): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.action === match : match;
    const index = this.frames.findIndex(test);
    if (index >= 0) return Promise.resolve(this.frames.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no frame matched within ${timeoutMs}ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match: test,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      });
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  // Sends an action and resolves with the reply that echoes its seq.
  request(action: string, msg?: unknown): Promise<Frame> {
    const seq = `c${++this.seq}`;
    this.send({ seq, action, msg });
    return this.next((frame) => frame.seq === seq);
  }

  close(): void {
    this.socket.close();
  }
}

const open: TestClient[] = [];

export function wsUrl(httpUrl: string, token?: string): string {
  const base = httpUrl.replace(/^http/, 'ws') + '/acc';
  return token === undefined ? base : `${base}?token=${encodeURIComponent(token)}`;
}

// Opens a connection; resolves once it is open (or rejects with the HTTP
// status and body when the upgrade is refused).
export function connect(httpUrl: string, token?: string): Promise<TestClient> {
  const socket = new WebSocket(wsUrl(httpUrl, token));
  const client = new TestClient(socket);
  open.push(client);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () =>
        reject(
          Object.assign(new Error('upgrade refused'), {
            status: res.statusCode,
            body: JSON.parse(body),
          }),
        ),
      );
    });
    socket.once('error', reject);
  });
}

// Connects with a token and waits for the welcome push.
export async function connectUser(httpUrl: string, token: string) {
  const client = await connect(httpUrl, token);
  const welcome = await client.next('welcome');
  return { client, welcome };
}

// For afterEach; it fails the test if any client got a binary frame.
export function closeClients(): void {
  const clients = open.splice(0);
  for (const client of clients) client.socket.terminate();
  const binary = clients.reduce((sum, client) => sum + client.binaryFrames, 0);
  if (binary > 0) throw new Error(`${binary} frame(s) came as binary WebSocket frames, not text`);
}

// The client's whole inbox after `since`, page by page.
export async function syncAll(client: TestClient, since = 0): Promise<Frame['msg'][]> {
  const messages: Frame['msg'][] = [];
  for (;;) {
    const reply = await client.request('sync', { since, limit: 500 });
    if (reply.action !== 'sync') throw new Error(`sync answered ${JSON.stringify(reply)}`);
    messages.push(...reply.msg.messages);
    if (!reply.msg.hasMore) return messages;
    since = reply.msg.messages.at(-1).inboxSeq;
  }
}
