// The Redis setups production runs prim on, each of the test's own: a
// primary (with replicas, if asked) watched by one Sentinel, and a Redis
// Cluster of three primaries. Every server is a real redis-server on free
// 127.0.0.1 ports, in a temporary folder, with nothing persisted, and is
// stopped by its pid. A test may kill one server and start it again on
// its port, the way a host is lost and comes back.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './cli.js';
import { tempDir } from './node.js';
import { serverArgs } from './redis.js';

const SERVER = '/usr/bin/redis-server';
const CLI = '/usr/bin/redis-cli';
// A shared Redis listens there; a test must never reach it.
const FORBIDDEN_PORT = 6379;
const READY_MS = 10_000;
const SENTINEL_NAME = 'mymaster';

export type TopologyMode = 'sentinel' | 'cluster';
export type ServerRole = 'primary' | 'replica' | 'sentinel';

// One redis-server (or Sentinel) child process.
class ServerProcess {
  private output = '';
  private child: ChildProcess;

  constructor(
    readonly port: number,
    readonly role: ServerRole,
    private readonly args: string[],
    private readonly cwd: string,
  ) {
    this.child = this.spawn();
  }

  // The same server again, on its port and with its files (a cluster
  // node's nodes.conf, a Sentinel's configuration), after it was killed.
  restart(): void {
    if (!this.exited) throw new Error(`redis-server on ${this.port} is still running`);
    this.output = '';
    this.child = this.spawn();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get log(): string {
    return this.output;
  }

  // Kills the process by its pid and resolves once it has exited.
  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.child.pid, 'SIGKILL');
    await gone;
  }

  private spawn(): ChildProcess {
    const child = spawn(SERVER, this.args, { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: Buffer) => {
      // Only the start of the log matters for a failed start.
      if (this.output.length < 8000) this.output += String(chunk);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    return child;
  }
}

// A running topology. `url`, `running`, `restart` and `destroy` are what
// TestCluster uses of a single redis-server.
export class RedisTopology {
  private destroyed = false;

  constructor(
    readonly mode: TopologyMode,
    // redis:// to one server of the topology; prim takes only credentials
    // from it in these modes.
    readonly url: string,
    // What redis.nodes lists: the Sentinels, or the cluster's nodes.
    readonly nodes: string[],
    readonly sentinelName: string,
    private readonly servers: ServerProcess[],
    private readonly dir: string,
  ) {}

  get running(): boolean {
    return !this.destroyed;
  }

  get pids(): number[] {
    return this.servers.map((server) => server.pid).filter((pid) => pid !== undefined);
  }

  // The ports of the servers started in `role`; a failover changes no
  // role here (the Sentinel says who is primary now).
  ports(role: ServerRole): number[] {
    return this.servers.filter((server) => server.role === role).map((server) => server.port);
  }

  restart(): Promise<void> {
    return Promise.reject(new Error(`a ${this.mode} topology is not restarted by tests`));
  }

  // SIGKILL to one server by its pid; resolves once it has exited.
  async kill(port: number): Promise<void> {
    await this.server(port).stop();
  }

  // Starts a killed server again on its port and resolves once it answers
  // PING. A cluster node reads its nodes.conf and rejoins with its slots,
  // empty: nothing was persisted.
  async revive(port: number): Promise<void> {
    const server = this.server(port);
    server.restart();
    await answering(server);
  }

  // Resolves once every cluster node reports cluster_state:ok and knows
  // every other node.
  async clusterOk(): Promise<void> {
    await untilClusterOk(this.servers);
  }

  // The port of the cluster primary that serves `key`'s slot.
  async primaryFor(key: string): Promise<number> {
    const port = this.servers.find((server) => !server.exited)!.port;
    const slot = Number(await ask(port, 'CLUSTER', 'KEYSLOT', key));
    const ranges = (await ask(port, 'CLUSTER', 'SLOTS')) as Array<
      [number, number, [string, number]]
    >;
    const range = ranges.find(([from, to]) => from <= slot && slot <= to);
    if (!range) throw new Error(`no cluster node serves slot ${slot} of ${key}`);
    return Number(range[2][1]);
  }

  // The primary's port as the first Sentinel that answers names it.
  async primaryBySentinel(): Promise<number | undefined> {
    for (const port of this.ports('sentinel')) {
      const address = await ask(port, 'SENTINEL', 'get-master-addr-by-name', this.sentinelName);
      if (Array.isArray(address)) return Number(address[1]);
    }
    return undefined;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.servers.map((server) => server.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private server(port: number): ServerProcess {
    const server = this.servers.find((candidate) => candidate.port === port);
    if (!server) throw new Error(`no server of this topology listens on ${port}`);
    return server;
  }
}

const started = new Set<RedisTopology>();

export interface SentinelOptions {
  // Replicas of the primary, which the Sentinel can promote.
  replicas?: number;
  // How long the primary may not answer before the Sentinel deems it down
  // (`sentinel down-after-milliseconds`).
  downAfterMs?: number;
  // `sentinel failover-timeout`: how long a failover may take before
  // another one is tried.
  failoverTimeoutMs?: number;
}

// One primary, its replicas and one Sentinel that watches it as
// `mymaster`, quorum 1. Resolves once the Sentinel names the primary, sees
// it up and knows every replica linked to it.
export async function startSentinel(options: SentinelOptions = {}): Promise<RedisTopology> {
  const { replicas = 0, downAfterMs = 5000, failoverTimeoutMs = 60_000 } = options;
  const dir = tempDir('prim-sentinel-');
  const servers: ServerProcess[] = [];
  try {
    const primary = await launch(servers, dir, 'primary', (port) => serverArgs(port, dir));
    for (let i = 0; i < replicas; i += 1) {
      await launch(servers, dir, 'replica', (port) => [
        ...serverArgs(port, dir),
        ...['--replicaof', '127.0.0.1', String(primary.port)],
      ]);
    }
    const replicaPorts = servers.filter((s) => s.role === 'replica').map((s) => s.port);
    await until('every replica is linked to the primary', servers, async () => {
      for (const port of replicaPorts) {
        const info = String(await ask(port, 'INFO', 'replication'));
        if (!info.includes('master_link_status:up')) return false;
      }
      return true;
    });

    const sentinel = await launch(servers, dir, 'sentinel', (port) => {
      // A Sentinel rewrites its own configuration file, so it is one of
      // the test's files, never a shared one.
      const file = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primary.port} 1`,
          `sentinel down-after-milliseconds ${SENTINEL_NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${SENTINEL_NAME} ${failoverTimeoutMs}`,
          '',
        ].join('\n'),
      );
      return [file, '--sentinel', '--loglevel', 'warning'];
    });

    await until(`the Sentinel on ${sentinel.port} watches ${SENTINEL_NAME}`, servers, async () => {
      const address = await ask(
        sentinel.port,
        'SENTINEL',
        'get-master-addr-by-name',
        SENTINEL_NAME,
      );
      const master = fields(await ask(sentinel.port, 'SENTINEL', 'master', SENTINEL_NAME));
      const known = await ask(sentinel.port, 'SENTINEL', 'replicas', SENTINEL_NAME);
      const linked = (Array.isArray(known) ? known : [])
        .map(fields)
        .filter((replica) => replica.flags === 'slave' && replica['master-link-status'] === 'ok')
        .map((replica) => Number(replica.port));
      return (
        JSON.stringify(address) === JSON.stringify(['127.0.0.1', String(primary.port)]) &&
        master.flags === 'master' &&
        replicaPorts.every((port) => linked.includes(port))
      );
    });

    // The URL names the Sentinel, not the primary: a node that ignored
    // redis.mode and took the URL as its server would fail at once.
    return track(
      new RedisTopology(
        'sentinel',
        `redis://127.0.0.1:${sentinel.port}`,
        [`127.0.0.1:${sentinel.port}`],
        SENTINEL_NAME,
        servers,
        dir,
      ),
    );
  } catch (err) {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// How long a cluster node may not answer before the others flag it: low,
// so that a test sees the cluster fail (and recover) within seconds.
const CLUSTER_NODE_TIMEOUT_MS = 1000;

// A Redis Cluster of `size` primaries without replicas, every slot
// assigned. Resolves once every node reports cluster_state:ok.
export async function startRedisCluster(size = 3): Promise<RedisTopology> {
  const dir = tempDir('prim-redis-cluster-');
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < size; i += 1) {
      // The bus port is set explicitly: the default, port + 10000, may
      // be taken or past 65535.
      const bus = await allowedPort();
      await launch(servers, dir, 'primary', (port) => [
        ...serverArgs(port, dir),
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(bus),
        '--cluster-config-file',
        path.join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        String(CLUSTER_NODE_TIMEOUT_MS),
      ]);
    }
    const nodes = servers.map((server) => `127.0.0.1:${server.port}`);

    await run(CLI, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
    await untilClusterOk(servers);

    return track(new RedisTopology('cluster', `redis://${nodes[0]}`, nodes, '', servers, dir));
  } catch (err) {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// For afterEach: every topology started since the last call is stopped
// and its folder removed.
export async function stopTopologies(): Promise<void> {
  const topologies = [...started];
  started.clear();
  await Promise.all(topologies.map((topology) => topology.destroy()));
}

function track(topology: RedisTopology): RedisTopology {
  started.add(topology);
  return topology;
}

function untilClusterOk(servers: ServerProcess[]): Promise<void> {
  return until('every cluster node reports cluster_state:ok', servers, async () => {
    for (const server of servers) {
      const info = String(await ask(server.port, 'CLUSTER', 'INFO'));
      if (!info.includes('cluster_state:ok')) return false;
      if (!info.includes(`cluster_known_nodes:${servers.length}`)) return false;
    }
    return true;
  });
}

// A reply of field, value, field, value… as an object.
function fields(reply: unknown): Record<string, string> {
  const list = Array.isArray(reply) ? reply.map(String) : [];
  const object: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) object[list[i]!] = list[i + 1]!;
  return object;
}

async function allowedPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== FORBIDDEN_PORT) return port;
  }
}

// Starts a server on a free port and resolves once it answers PING. A
// port taken between freePort() and the bind makes the server exit at
// once; a few other ports are tried before giving up.
async function launch(
  servers: ServerProcess[],
  cwd: string,
  role: ServerRole,
  args: (port: number) => string[],
): Promise<ServerProcess> {
  if (!existsSync(SERVER) || !existsSync(CLI)) {
    throw new Error(`${SERVER} and ${CLI} are needed (apt-get install redis-server)`);
  }
  let failure: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await allowedPort();
    const server = new ServerProcess(port, role, args(port), cwd);
    servers.push(server);
    try {
      await answering(server);
      return server;
    } catch (err) {
      servers.splice(servers.indexOf(server), 1);
      failure = err;
    }
  }
  throw failure;
}

// Resolves once the server answers PING; kills it and fails with its log
// if it exits or does not answer in time.
async function answering(server: ServerProcess): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (!server.exited && Date.now() < deadline) {
    if ((await ask(server.port, 'PING')) === 'PONG') return;
    await pause(25);
  }
  await server.stop();
  throw new Error(`redis-server on port ${server.port} did not answer PING:\n${server.log}`);
}

// Polls `ready` until it holds; fails with the servers' logs otherwise.
async function until(
  what: string,
  servers: ServerProcess[],
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (!(await ready())) {
    const dead = servers.find((server) => server.exited);
    if (dead) throw new Error(`redis-server on ${dead.port} exited:\n${dead.log}`);
    if (Date.now() > deadline) {
      const logs = servers.map((server) => `--- ${server.port}\n${server.log}`).join('\n');
      throw new Error(`not within ${READY_MS}ms: ${what}\n${logs}`);
    }
    await pause(50);
  }
}

// One command on a connection of its own that neither retries nor
// queues; undefined when the server does not answer or refuses it.
async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
    commandTimeout: 1000,
  });
  client.on('error', () => {
    // Refused connections are expected while a server starts.
  });
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: READY_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed:\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
