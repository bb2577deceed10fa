// The gRPC peer link on its own: the cluster secret on every call, bad
// requests refused by name, and a deadline on a peer that is not there.
import { afterEach, describe, expect, it } from 'vitest';
import { credentials, ServerCredentials, status, type ChannelCredentials } from '@grpc/grpc-js';
import { readFileSync, rmSync } from 'node:fs';
import { startPeerServer, type PeerServer } from '../src/cluster/peer-server.js';
import { PeerPool } from '../src/cluster/peers.js';
import { Keys } from '../src/cluster/keys.js';
import { closeReason } from '../src/gateway/session.js';
import { SessionRegistry } from '../src/gateway/sessions.js';
import { createLogger } from '../src/log.js';
import { makeCerts, type NodeCerts } from './helpers/certs.js';
import { freePort } from './helpers/cli.js';
import { startCluster, stopClusters } from './helpers/cluster.js';
import { closeClients } from './helpers/client.js';

const SECRET = 'peer-secret-0123456789';
const logger = createLogger({ level: 'silent', pretty: false });
const servers: PeerServer[] = [];
const pools: PeerPool[] = [];

async function peer(
  log = logger,
  serverCredentials = ServerCredentials.createInsecure(),
): Promise<string> {
  const server = await startPeerServer(
    {
      registry: new SessionRegistry('n1'),
      credentials: serverCredentials,
      secret: SECRET,
      state: () => ({
        nodeId: 'n1',
        address: 'here',
        version: 'test',
        state: 'ready',
        startedAt: 1,
        connections: 0,
        tenantsOnline: 0,
        instance: 'test',
        http: '127.0.0.1:1',
        sessionPolicy: 'replace',
      }),
      maxMessageBytes: 1024 * 1024,
      logger: log,
    },
    '127.0.0.1',
    0,
  );
  servers.push(server);
  return `127.0.0.1:${server.port}`;
}

function pool(
  secret = SECRET,
  timeoutMs = 1000,
  channel: ChannelCredentials = credentials.createInsecure(),
): PeerPool {
  const created = new PeerPool(secret, timeoutMs, 1024 * 1024, channel);
  pools.push(created);
  return created;
}

afterEach(async () => {
  pools.splice(0).forEach((p) => p.close());
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  closeClients();
  await stopClusters();
});

describe('peer link', () => {
  it('answers a caller with the cluster secret', async () => {
    const address = await peer();
    const state = await pool().state(address);
    expect(state).toMatchObject({ nodeId: 'n1', state: 'ready', startedAt: 1 });
    const n1 = { nodeId: 'n1', address };
    const users = await pool().localUsers(n1, 'acme');
    expect(users).toEqual([]);
    const reached = await pool().deliver(n1, {
      tenant: 'acme',
      userId: 'alice',
      frame: Buffer.from('{}'),
      exceptConnId: '',
    });
    expect(reached).toBe(0);
  });

  it('refuses a caller with another secret', async () => {
    const address = await peer();
    await expect(pool('another-secret-000000').state(address)).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
      details: 'cluster secret does not match',
    });
  });

  it('logs a caller that keeps trying wrong secrets once, not once a call', async () => {
    const lines: string[] = [];
    const address = await peer(
      createLogger({ level: 'warn', pretty: false, destination: { write: (l) => lines.push(l) } }),
    );
    const wrong = pool('another-secret-000000');
    for (let i = 0; i < 50; i += 1) {
      await expect(wrong.state(address)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    }
    const warnings = lines.map((line) => JSON.parse(line));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: 'peer call with a wrong cluster secret' });
  });

  it('refuses a kick with a protocol close code and a call without a tenant', async () => {
    const n1 = { nodeId: 'n1', address: await peer() };
    const kick = {
      tenant: 'acme',
      userId: 'a',
      platform: '',
      reason: 'x',
      exceptConnId: '',
      loggedInAt: 0,
    };
    await expect(pool().kick(n1, { ...kick, code: 1000 })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(pool().localUsers(n1, '')).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'tenant is required',
    });
  });

  it('refuses a request meant for another node at its address', async () => {
    const gone = { nodeId: 'n0', address: await peer() };
    const frame = Buffer.from('{}');
    const deliver = { tenant: 'acme', userId: 'alice', frame, exceptConnId: '' };
    await expect(pool().deliver(gone, deliver)).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: 'this is node "n1", not "n0"',
    });
    await expect(pool().broadcast(gone, { tenant: 'acme', frame })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    await expect(pool().localUsers(gone, 'acme')).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });

  it('gives up on a peer that is not there within the deadline', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const began = Date.now();
    await expect(pool(SECRET, 300).state(address)).rejects.toMatchObject({
      code: expect.any(Number),
    });
    expect(Date.now() - began).toBeLessThan(5000);
  });
});

describe('Redis keys', () => {
  it('keeps ids with separators apart and everything under the prefix', () => {
    const keys = new Keys('p:');
    expect(keys.presence('a', 'b:c')).not.toBe(keys.presence('a:b', 'c'));
    expect(keys.presence('a', 'b%3Ac')).not.toBe(keys.presence('a', 'b:c'));
    for (const key of [
      keys.nodes(),
      keys.node('n:1'),
      keys.published('x'),
      keys.presence('t', 'u'),
    ]) {
      expect(key.startsWith('p:')).toBe(true);
    }
  });
});

describe('close reasons', () => {
  it('are cut to 123 bytes at a character boundary', () => {
    expect(closeReason('kicked')).toBe('kicked');
    const cut = closeReason('é'.repeat(100));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut).toBe('é'.repeat(61));
    expect(closeReason('a'.repeat(200))).toBe('a'.repeat(123));
  });
});

describe('TLS between nodes', () => {
  let certs: NodeCerts;
  const pem = (file: string) => readFileSync(file);

  it('serves only peers with a certificate of the CA, and two TLS nodes deliver', async () => {
    certs = makeCerts();
    try {
      const tlsServer = ServerCredentials.createSsl(
        pem(certs.ca),
        [{ cert_chain: pem(certs.cert), private_key: pem(certs.key) }],
        true,
      );
      const address = await peer(logger, tlsServer);
      const trusted = credentials.createSsl(pem(certs.ca), pem(certs.key), pem(certs.cert));
      expect(await pool(SECRET, 1000, trusted).state(address)).toMatchObject({ nodeId: 'n1' });

      // Plaintext, and a certificate of another CA: no call gets through.
      await expect(pool(SECRET, 1000).state(address)).rejects.toMatchObject({
        code: status.UNAVAILABLE,
      });
      const stranger = credentials.createSsl(
        pem(certs.ca),
        pem(certs.strangerKey),
        pem(certs.strangerCert),
      );
      await expect(pool(SECRET, 1000, stranger).state(address)).rejects.toMatchObject({
        code: status.UNAVAILABLE,
      });

      const cluster = await startCluster(['n1', 'n2'], {
        env: {
          PRIM_GRPC_TLS_CERT: certs.cert,
          PRIM_GRPC_TLS_KEY: certs.key,
          PRIM_GRPC_TLS_CA: certs.ca,
        },
      });
      const [n1, n2] = cluster.nodes;
      const acme = await cluster.tenant('acme');
      const bob = await acme.open(n2, 'bob');
      const sent = await acme.post(n1, '/msg/sendMsg', { receiverId: 'bob', message: 'sealed' });
      expect(sent.data.delivered).toBe(true);
      expect((await bob.next('msg')).msg.message).toBe('sealed');
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });
});
