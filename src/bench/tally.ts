// What a bench run has counted so far, shared by all of its connections.
import { LatencyHistogram } from './latency.js';

export class Tally {
  sent = 0;
  acked = 0;
  delivered = 0;
  // Acks that said the receiver was reached: each of them has a push on
  // its way, which is what the drain after the run waits for.
  expectedPushes = 0;
  errors = 0;
  readonly errorKinds = new Map<string, number>();
  readonly ackLatency = new LatencyHistogram();
  readonly deliveryLatency = new LatencyHistogram();

  // `kind` names the failure as a user would look it up: "error 1012",
  // "close 4002".
  error(kind: string): void {
    this.errors += 1;
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }
}
