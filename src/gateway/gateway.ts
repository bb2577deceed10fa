// The /acc gateway: authenticates connections, turns them into sessions,
// applies the session policy and hands frames to the actions in order.
import type { WebSocket } from 'ws';
import { tokenPolicyOf, verifyToken, type TokenClaims, type TokenPolicy } from '../auth/tokens.js';
import type { Tenants } from '../auth/tenants.js';
import { newId } from '../auth/secrets.js';
import type { Config } from '../config/schema.js';
import { CloseCode, PrimError, toPrimError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Delivery } from '../messages/delivery.js';
import type { Messages } from '../messages/messages.js';
import type { Store } from '../store/store.js';
import { ACTIONS } from './actions.js';
import { decodeFrame, encodeFrame, errorFrame, type Seq } from './protocol.js';
import { Session } from './session.js';
import type { SessionRegistry } from './sessions.js';

export interface GatewayDeps {
  config: Config;
  store: Store;
  tenants: Tenants;
  messages: Messages;
  registry: SessionRegistry;
  // Reaches sessions on every node, for the replace policy.
  delivery: Delivery;
  logger: Logger;
}

// How often silent sessions and the tenants of live sessions are checked.
const SWEEP_MS = 5000;

// How far back each sweep reads revocations again: a revocation carries
// the clock of the node that made it, which may be behind this one's.
const REVOCATION_OVERLAP_MS = 60_000;

// How long a draining node waits for clients to answer its close frames.
const CLOSE_GRACE_MS = 1000;

export class Gateway {
  readonly tokenPolicy: TokenPolicy;
  private readonly log: Logger;
  private readonly sweeper: NodeJS.Timeout;
  private readonly pending = new Set<Session>();
  // The time the last sweep read revocations up to.
  private revocationsReadAt = Date.now();
  // Sessions are taken from open() until drain(): before, other nodes could
  // not reach them yet.
  private accepting = false;
  private draining = false;

  constructor(readonly deps: GatewayDeps) {
    const { config } = deps;
    this.tokenPolicy = tokenPolicyOf(config);
    this.log = deps.logger.child({ module: 'gateway' });
    const interval = Math.min(SWEEP_MS, Math.max(50, config.ws.heartbeatTimeout / 3));
    this.sweeper = setInterval(() => void this.sweep(), interval);
    this.sweeper.unref();
  }

  get heartbeatInterval(): number {
    return Math.floor(this.deps.config.ws.heartbeatTimeout / 3);
  }

  verify(token: unknown): Promise<TokenClaims> {
    return verifyToken(token, this.deps.tenants, this.deps.store, this.tokenPolicy);
  }

  // A socket that passed the upgrade; `claims` when the token came in the URL.
  accept(socket: WebSocket, claims: TokenClaims | undefined): void {
    const { config, registry } = this.deps;
    const session = new Session(
      newId(),
      socket,
      config.limits.maxBufferedBytes,
      config.limits.messagesPerSecond,
    );
    if (!this.accepting || this.draining) {
      const why = this.draining ? 'server draining' : 'server starting';
      session.close(CloseCode.DRAINING, `${why}; reconnect now`);
      return;
    }
    if (registry.size + this.pending.size >= config.limits.maxConnections) {
      session.close(
        CloseCode.CONNECTION_LIMIT,
        `node is at limits.maxConnections (${config.limits.maxConnections})`,
      );
      return;
    }

    this.pending.add(session);
    // A closing session is gone at once: nothing more can reach it.
    session.onClose(() => {
      this.pending.delete(session);
      registry.remove(session);
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      session.lastSeen = Date.now();
      session.enqueue(() => this.handle(session, data, isBinary), session.lastSeen);
    });
    socket.on('close', (code: number) => {
      this.log.debug({ connId: session.connId, tenant: session.tenant, code }, 'session closed');
    });
    // ws reports a protocol error (an oversize frame: 1009) here and closes
    // the connection itself; frames still queued could not be acked. The
    // error is logged where the server meets ws (server/app.ts).
    socket.on('error', () => session.abandon());

    // Also for a token in the URL: a login that fails leaves the connection
    // unauthenticated, and it may still log in with a frame.
    const timer = setTimeout(() => {
      if (!session.claims) session.close(CloseCode.HEARTBEAT_TIMEOUT, 'login timeout');
    }, config.ws.loginTimeout);
    session.onClose(() => clearTimeout(timer));
    if (claims) {
      session.enqueue(() =>
        this.login(session, claims).catch((err) => this.refuse(session, '', err)),
      );
    }
  }

  // Turns the connection into a session and greets it.
  async login(session: Session, claims: TokenClaims): Promise<void> {
    try {
      await this.greet(session, claims);
    } catch (err) {
      // Before the claims go: the registry finds a session by its tenant
      // and user.
      this.deps.registry.remove(session);
      session.claims = undefined;
      if (session.open) this.pending.add(session);
      throw err;
    }
  }

  private async greet(session: Session, claims: TokenClaims): Promise<void> {
    const { config, registry, delivery } = this.deps;
    session.claims = claims;
    session.loginAt = Date.now();
    this.pending.delete(session);
    session.holdPushes();
    let welcome: string | undefined;
    try {
      // Registered before the older sessions are looked for: of two logins
      // at once, the later to look finds the other, and one goes.
      await registry.add(session);
      if (config.ws.sessionPolicy === 'replace' && !(await delivery.replaceOlder(session))) {
        session.close(CloseCode.REPLACED, 'replaced by a newer session');
        registry.remove(session);
        return;
      }
      if (!session.open) return;
      await this.checkNotRevoked(claims);
      const inboxSeq = await this.deps.messages.inboxHead(claims.tenant, claims.userId);
      welcome = encodeFrame('', 'welcome', {
        connId: session.connId,
        userId: claims.userId,
        platform: claims.platform,
        inboxSeq,
        heartbeatInterval: this.heartbeatInterval,
      });
    } finally {
      session.releasePushes(welcome);
    }
    this.log.debug(
      { connId: session.connId, tenant: claims.tenant, userId: claims.userId },
      'session opened',
    );
  }

  // An exit between the token check and the registration kicked sessions
  // before this one could be reached: checked again now that it can be.
  private async checkNotRevoked(claims: TokenClaims): Promise<void> {
    const { tenant, userId, platform, issuedAt } = claims;
    const revokedAt = await this.deps.store.revokedAt(tenant, userId, platform);
    if (revokedAt !== undefined && issuedAt < revokedAt) {
      throw new PrimError('TOKEN_REVOKED', 'the token was revoked; ask for a new one');
    }
  }

  private async handle(session: Session, data: Buffer, isBinary: boolean): Promise<void> {
    // The server has decided to end this connection: a frame acted on now
    // could not be answered, and a message stored without its ack would be
    // stored twice when the client resends it. Frames of a client that
    // closed the connection itself are still handled: it sent them first.
    if (session.ending) return;
    if (isBinary) {
      const error = new PrimError('BAD_PARAMETER', 'frames must be JSON text frames');
      return this.refuse(session, '', error);
    }
    const decoded = decodeFrame(data);
    if ('error' in decoded) return this.refuse(session, decoded.seq, decoded.error);
    const { frame } = decoded;
    try {
      // Own keys only: "toString" or "__proto__" are not actions.
      const action = Object.hasOwn(ACTIONS, frame.action) ? ACTIONS[frame.action] : undefined;
      if (!action) {
        throw new PrimError('UNKNOWN_ROUTE', `unknown action "${frame.action}"`);
      }
      if (action.needsLogin && !session.claims) {
        throw new PrimError('NOT_LOGGED_IN', `log in before "${frame.action}"`);
      }
      await action.run(this, session, frame);
    } catch (err) {
      this.refuse(session, frame.seq, err);
    }
  }

  // Answers a failed frame (or login) with an error frame.
  private refuse(session: Session, seq: Seq, err: unknown): void {
    const error = toPrimError(err);
    if (error.kind === 'SERVER_ERROR') {
      this.log.error({ connId: session.connId, err }, 'frame failed');
    }
    session.send(errorFrame(seq, error));
    // A refused login ends the connection: the token will not get better.
    if (error.closeCode && error.closeCode >= 4500 && !session.claims) {
      session.close(error.closeCode, error.message);
    }
  }

  // Closes silent sessions, sessions whose token has expired or was
  // revoked, and those whose tenant was disabled or deleted behind the
  // node's back (the CLI writes to the store directly).
  private async sweep(): Promise<void> {
    const { config, registry, tenants } = this.deps;
    const now = Date.now();
    const silentSince = now - config.ws.heartbeatTimeout;
    for (const session of registry.all()) {
      if (session.lastSeen < silentSince) {
        session.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      } else if (session.claims && session.claims.expiresAt <= now) {
        session.close(CloseCode.TOKEN_EXPIRED, 'token expired; reconnect with a new one');
      }
    }
    for (const account of registry.tenantNames()) {
      try {
        const tenant = await tenants.fresh(account);
        if (!tenant || tenant.disabled) {
          const reason = tenant ? 'tenant disabled' : 'tenant deleted';
          await registry.kick(account, undefined, undefined, CloseCode.TENANT_DISABLED, reason);
        }
      } catch (err) {
        this.log.warn({ tenant: account, err }, 'tenant check failed');
      }
    }
    await this.closeRevoked(now);
  }

  // An exit closes the user's sessions on every node it reaches at once; a
  // node it could not reach (a peer call that failed) closes them here.
  private async closeRevoked(now: number): Promise<void> {
    const { registry, store } = this.deps;
    const since = this.revocationsReadAt - REVOCATION_OVERLAP_MS;
    if (registry.size === 0) {
      this.revocationsReadAt = now;
      return;
    }
    try {
      const revocations = await store.revocationsSince(since);
      this.revocationsReadAt = now;
      for (const revocation of revocations) registry.closeRevoked(revocation);
    } catch (err) {
      this.log.warn({ err }, 'revocation check failed');
    }
  }

  open(): void {
    this.accepting = true;
  }

  // Stops taking connections and closes each session with 4000 once the
  // frames it sent are handled, or all that remain at `timeoutMs`.
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.sweeper);
    const sessions = [...this.deps.registry.all(), ...this.pending];
    // Frames already received are finished; nothing new is read, so that a
    // client that keeps sending cannot hold the drain open. What it sends
    // from now on is never acked, and it resends after reconnecting.
    for (const session of sessions) session.stopReading();
    const closeWhenIdle = async (session: Session) => {
      await session.idle();
      session.close(CloseCode.DRAINING, 'server draining; reconnect now');
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(sessions.map(closeWhenIdle)), timeout]);
    clearTimeout(timer);
    for (const session of sessions) {
      session.close(CloseCode.DRAINING, 'server draining; reconnect now');
    }

    // A client that does not read never answers the close frame; the HTTP
    // server would wait for it (ws's own timeout is 30 s).
    let grace: NodeJS.Timeout | undefined;
    const graceOver = new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([Promise.all(sessions.map((session) => session.gone)), graceOver]);
    clearTimeout(grace);
    for (const session of sessions) session.terminate();
  }
}
