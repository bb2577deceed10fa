// A redis-server of the bench's own for the cluster scenarios: a free
// 127.0.0.1 port, a temporary folder, nothing persisted, stopped by its
// pid when the bench ends.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

export const REDIS_BINARY = '/usr/bin/redis-server';
// A shared Redis listens there; the bench must never reach it.
const SHARED_PORT = 6379;
const READY_MS = 5000;
const POLL_MS = 50;

// Resolves to { url, stop() }; rejects with why there is no server, in
// words fit to tell the user why the cluster scenarios were skipped.
export async function startRedis(dir) {
  if (!existsSync(REDIS_BINARY)) {
    throw new Error(`${REDIS_BINARY} is not installed (apt-get install redis-server)`);
  }
  // A port taken between freePort() and redis-server's bind makes the
  // server exit at once; another port is tried then.
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    if (port === SHARED_PORT) continue;
    try {
      return await launch(port, dir);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError ?? new Error('found no free port for redis-server');
}

async function launch(port, dir) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  const child = spawn(REDIS_BINARY, [...args, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // If the bench dies on an error, the server must not outlive it.
  const orphan = () => child.exitCode === null && process.kill(child.pid, 'SIGKILL');
  process.once('exit', orphan);

  const stop = async () => {
    process.off('exit', orphan);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  };
  try {
    await untilPong(port, exited);
  } catch (err) {
    await stop();
    throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${err.message} ${stderr}`);
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop };
}

// Nothing announces that the server accepts commands: PING until it does.
async function untilPong(port, exited) {
  let code;
  void exited.then((exitCode) => (code = exitCode ?? 'a signal'));
  const deadline = Date.now() + READY_MS;
  while (!(await pong(port))) {
    if (code !== undefined) throw new Error(`it exited with ${code}`);
    if (Date.now() > deadline) throw new Error(`no PONG within ${READY_MS} ms`);
    await sleep(POLL_MS);
  }
}

function pong(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
