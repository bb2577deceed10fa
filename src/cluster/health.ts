// Whether Redis serves this node, as its own calls find out. The first
// failure marks it down at once: from then on the message path does not
// wait on Redis (each call would cost up to the command timeout while it
// hangs) and routes without presence. A probe, the node's full refresh,
// runs every PROBE_MS until it succeeds; then Redis is up again and holds
// the node's record and sessions once more.
import type { Logger } from '../log.js';

const PROBE_MS = 500;

export class RedisHealth {
  private down = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly probe: () => Promise<void>,
    private readonly on: {
      down: () => void;
      // Sessions that came while the probe ran were not in it.
      up: () => void;
    },
    private readonly log: Logger,
  ) {}

  get up(): boolean {
    return !this.down;
  }

  failed(err: unknown): void {
    if (this.down || this.stopped) return;
    this.down = true;
    this.on.down();
    this.log.warn(
      { reason: (err as Error | undefined)?.message ?? String(err) },
      'Redis does not answer; not ready, routing without presence until it does',
    );
    this.schedule(PROBE_MS);
  }

  // Redis says it is back (a reconnect): probe now rather than later.
  probeSoon(): void {
    if (this.down) this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(), delayMs);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    try {
      await this.probe();
    } catch {
      if (!this.stopped) this.schedule(PROBE_MS);
      return;
    }
    if (this.stopped) return;
    this.down = false;
    this.log.info('Redis answers again; the node is registered and its sessions published');
    this.on.up();
  }
}
