// The gRPC peer link on its own: the cluster secret on every call, bad
// requests refused by name, and a deadline on a peer that is not there.
import { afterEach, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { startPeerServer, type PeerServer } from '../src/cluster/peer-server.js';
import { PeerPool } from '../src/cluster/peers.js';
import { Keys } from '../src/cluster/keys.js';
import { closeReason } from '../src/gateway/session.js';
import { SessionRegistry } from '../src/gateway/sessions.js';
import { createLogger } from '../src/log.js';
import { freePort } from './helpers/cli.js';

const SECRET = 'peer-secret-0123456789';
const logger = createLogger({ level: 'silent', pretty: false });
const servers: PeerServer[] = [];
const pools: PeerPool[] = [];

async function peer(log = logger): Promise<string> {
  const server = await startPeerServer(
    {
      registry: new SessionRegistry('n1'),
      secret: SECRET,
      state: () => ({
        nodeId: 'n1',
        address: 'here',
        version: 'test',
        state: 'ready',
        startedAt: 1,
        connections: 0,
        tenantsOnline: 0,
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

function pool(secret = SECRET, timeoutMs = 1000): PeerPool {
  const created = new PeerPool(secret, timeoutMs, 1024 * 1024);
  pools.push(created);
  return created;
}

afterEach(async () => {
  pools.splice(0).forEach((p) => p.close());
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('peer link', () => {
  it('answers a caller with the cluster secret', async () => {
    const address = await peer();
    const state = await pool().state(address);
    expect(state).toMatchObject({ nodeId: 'n1', state: 'ready', startedAt: 1 });
    const users = await pool().localUsers(address, 'acme');
    expect(users).toEqual([]);
    const reached = await pool().deliver(address, {
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
    const address = await peer();
    const kick = { tenant: 'acme', userId: 'a', platform: '', reason: 'x', exceptConnId: '' };
    await expect(pool().kick(address, { ...kick, code: 1000 })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    await expect(pool().localUsers(address, '')).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'tenant is required',
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
