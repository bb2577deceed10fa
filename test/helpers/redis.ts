// A real redis-server of the test's own, on a free 127.0.0.1 port, in a
// temporary folder, with nothing persisted. It can be stopped and started
// again on the same port, the way an operator restarts Redis under a
// running cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from './cli.js';
import { tempDir } from './node.js';

const BINARY = '/usr/bin/redis-server';
// A shared Redis listens there; a test must never reach it.
const FORBIDDEN_PORT = 6379;
const READY_MS = 5000;

export class TestRedis {
  private child: ChildProcess | undefined;
  private output = '';
  private readonly clients: Redis[] = [];

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  // A port taken between freePort() and the bind makes the server exit at
  // once; a few other ports are tried before giving up.
  static async start(): Promise<TestRedis> {
    if (!existsSync(BINARY)) {
      throw new Error(
        `${BINARY} is missing: the cluster tests need a local redis-server ` +
          '(apt-get install redis-server)',
      );
    }
    const dir = tempDir('prim-redis-');
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const port = await freePort();
      if (port === FORBIDDEN_PORT) continue;
      const redis = new TestRedis(port, dir);
      try {
        await redis.launch();
        return redis;
      } catch (err) {
        lastError = err;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError ?? new Error('no free port for redis-server');
  }

  // Starts the server again on the same port, empty.
  async restart(): Promise<void> {
    if (this.child) throw new Error(`redis-server on ${this.port} is still running`);
    await this.launch();
  }

  // Kills the server by its pid and resolves once it has exited. SIGKILL
  // is the abrupt loss a cluster must survive; SIGTERM a clean shutdown.
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid!, signal);
      await exited;
    }
    this.child = undefined;
  }

  // A client of this server for the test's own checks. Failing commands
  // fail fast instead of queueing while the server is down.
  client(): Redis {
    const client = new Redis({
      host: '127.0.0.1',
      port: this.port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    client.on('error', () => {
      // Reconnect errors while the server is down are expected.
    });
    this.clients.push(client);
    return client;
  }

  // Every key in every database, each with its database number.
  async allKeys(): Promise<Array<{ db: number; key: string }>> {
    const client = this.client();
    await client.connect();
    try {
      const info = await client.info('keyspace');
      const dbs = [...info.matchAll(/^db(\d+):/gm)].map((match) => Number(match[1]));
      const keys: Array<{ db: number; key: string }> = [];
      for (const db of dbs) {
        await client.select(db);
        let cursor = '0';
        do {
          const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
          cursor = next;
          for (const key of batch) keys.push({ db, key });
        } while (cursor !== '0');
      }
      return keys;
    } finally {
      client.disconnect();
    }
  }

  // The keys whose name or content (string, hash, set, sorted set or list)
  // holds `text`, in every database: whatever a node left behind that
  // names a session or a node, whatever the layout of prim's keys.
  async keysMentioning(text: string): Promise<string[]> {
    const client = this.client();
    await client.connect();
    try {
      const found: string[] = [];
      for (const { db, key } of await this.allKeys()) {
        await client.select(db);
        const type = await client.type(key);
        let content: string[] = [];
        if (type === 'string') content = [(await client.get(key)) ?? ''];
        else if (type === 'hash') content = Object.entries(await client.hgetall(key)).flat();
        else if (type === 'set') content = await client.smembers(key);
        else if (type === 'zset') content = await client.zrange(key, 0, -1);
        else if (type === 'list') content = await client.lrange(key, 0, -1);
        if (key.includes(text) || content.some((item) => item.includes(text))) {
          found.push(db === 0 ? key : `db${db}:${key}`);
        }
      }
      return found;
    } finally {
      client.disconnect();
    }
  }

  // Stops the server, closes the test's clients and removes the folder.
  async destroy(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    if (this.port === FORBIDDEN_PORT) throw new Error('port 6379 is not for tests');
    this.output = '';
    const child = spawn(BINARY, serverArgs(this.port, this.dir), {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const take = (chunk: Buffer) => {
      // Only the start of the log matters for a failed start.
      if (this.output.length < 8000) this.output += String(chunk);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });

    const deadline = Date.now() + READY_MS;
    while (!(await answersPing(this.port))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server on port ${this.port} exited:\n${this.output}`);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server on port ${this.port} did not answer PING:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

// One PING over a plain socket, so that no client library's reconnect
// logic stands between the test and the answer.
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += String(chunk);
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

// A server of the tests' own: 127.0.0.1 only, nothing kept on disk.
export function serverArgs(port: number, dir: string): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
    ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
  ];
}

const started = new Set<TestRedis>();

export async function startRedis(): Promise<TestRedis> {
  const redis = await TestRedis.start();
  started.add(redis);
  return redis;
}

// For afterEach: every server started since the last call is stopped and
// its folder removed.
export async function stopRedisServers(): Promise<void> {
  const servers = [...started];
  started.clear();
  await Promise.all(servers.map((redis) => redis.destroy()));
}
