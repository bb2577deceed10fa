// How a node stops while REST requests are in flight: within
// shutdownTimeout and a small margin, whatever its HTTP clients or its
// store do, and a stored message still gets its answer.
import { Agent, request } from 'node:http';
import { afterEach, expect, test } from 'vitest';
import { stopTestNodes, type TestNode } from './helpers/node.js';
import { startWithTenant } from './helpers/tenant.js';

// Far below fastify's keep-alive timeout (72 s), which used to hold the
// stop open; above shutdownTimeout (1 s) plus the node's margins.
const STOP_BOUND_MS = 4000;

let agent: Agent | undefined;

afterEach(async () => {
  // A node that failed the test still waits for this agent's connection.
  agent?.destroy();
  agent = undefined;
  await stopTestNodes();
});

interface Answer {
  status: number;
  connection: string | undefined;
  code: number;
}

// POST /msg/sendMsg over the keep-alive agent.
function sendMsg(node: TestNode, auth: string, receiverId: string): Promise<Answer> {
  const body = JSON.stringify({ receiverId, message: 'hello' });
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/msg/sendMsg', node.url),
      {
        method: 'POST',
        agent,
        headers: { authorization: auth, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            connection: res.headers.connection,
            code: (JSON.parse(text) as { code: number }).code,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Holds each message between the store and its delivery, as a slow peer
// would: `reached` once a message is stored, the push goes on at `release`.
function holdDeliveries(node: TestNode) {
  const { delivery } = node.context;
  const push = delivery.push.bind(delivery);
  let reached!: () => void;
  let release!: () => void;
  const stored = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  delivery.push = async (...args) => {
    reached();
    await released;
    return push(...args);
  };
  return { stored, release };
}

// Resolves when the node begins closing its HTTP server: the point from
// which a connection that was still busy used to be left open.
function httpClosing(node: TestNode): Promise<void> {
  const { server } = node.app;
  const close = server.close.bind(server);
  return new Promise((resolve) => {
    server.close = (callback) => {
      close(callback);
      resolve();
      return server;
    };
  });
}

test('a send in flight on a keep-alive connection is answered and does not hold the stop', async () => {
  const { node, auth } = await startWithTenant({ PRIM_SHUTDOWN_TIMEOUT: '1s' });
  agent = new Agent({ keepAlive: true });
  const held = holdDeliveries(node);
  void httpClosing(node).then(held.release);
  const answer = sendMsg(node, auth, 'bob');
  await held.stored;

  const begun = Date.now();
  await node.stop();
  const stopMs = Date.now() - begun;

  expect(stopMs).toBeLessThan(STOP_BOUND_MS);
  expect(await answer).toEqual({ status: 200, connection: 'close', code: 200 });
});

test('a store that never answers cannot hold the stop open', async () => {
  const { node, auth } = await startWithTenant({ PRIM_SHUTDOWN_TIMEOUT: '1s' });
  agent = new Agent({ keepAlive: true });
  let reached!: () => void;
  const writing = new Promise<void>((resolve) => (reached = resolve));
  node.context.store.appendMessages = () => {
    reached();
    return new Promise(() => undefined);
  };
  const answer = sendMsg(node, auth, 'bob');
  await writing;

  const begun = Date.now();
  await node.stop();
  const stopMs = Date.now() - begun;

  expect(stopMs).toBeLessThan(STOP_BOUND_MS);
  // Nothing was stored, so nothing is acknowledged: the client resends.
  await expect(answer).rejects.toThrow('socket hang up');
});
