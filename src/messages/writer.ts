// Batches message writes: the messages handed in during one turn of the
// event loop (every frame that arrived together, on every connection) go
// into one store transaction, so a busy node pays one fsync for many
// messages. Batches are written one after another, which keeps the order in
// which messages were handed in. With SQLite the write itself blocks the
// event loop; a write in a worker thread would let batches grow while one
// is being committed.
import type { AppendResult, NewMessage, Store } from '../store/store.js';

type Outcome = AppendResult | undefined;

interface Pending {
  message: NewMessage;
  resolve: (result: Outcome) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 512;

export class BatchWriter {
  private queue: Pending[] = [];
  private writing = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(private readonly store: Store) {}

  // Resolves to undefined when the message's tenant no longer exists.
  append(message: NewMessage): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (!this.writing) this.start();
    });
  }

  // Resolves once everything handed in so far is written.
  flushed(): Promise<void> {
    return this.writing ? this.idle : Promise.resolve();
  }

  private start(): void {
    this.writing = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    // setImmediate lets the messages of this event-loop turn join the batch.
    setImmediate(() => void this.writeAll());
  }

  private async writeAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const results = await this.store.appendMessages(batch.map((p) => p.message));
        batch.forEach((pending, i) => pending.resolve(results[i]));
      } catch (err) {
        batch.forEach((pending) => pending.reject(err));
      }
    }
    this.writing = false;
    this.markIdle();
  }
}
