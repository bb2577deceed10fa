// Latency samples kept as a histogram of logarithmic buckets, so that a long
// run at a high rate costs the same memory as a short one: the client's own
// RSS is part of what the bench reports, and it should not measure itself.

// Each bucket is 1% wider than the one below it; a percentile read from a
// bucket's upper edge is therefore at most 1% above the true value.
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
// Samples are kept in microseconds; 1e8 µs (100 s) is the top bucket, and
// anything slower is counted there (max still records the true value).
const TOP_MICROS = 1e8;
const BUCKETS = Math.ceil(Math.log(TOP_MICROS) / LOG_GROWTH) + 1;

export interface LatencySummary {
  // null when nothing was measured, rather than a made-up 0.
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private largest = 0;

  get count(): number {
    return this.total;
  }

  record(ms: number): void {
    const micros = Math.max(1, ms * 1000);
    const index = Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_GROWTH));
    this.counts[index] += 1;
    this.total += 1;
    if (ms > this.largest) this.largest = ms;
  }

  // The value below which `fraction` of the samples lie, in milliseconds.
  percentile(fraction: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(fraction * this.total));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index += 1) {
      seen += this.counts[index];
      if (seen >= rank) return Math.min(this.largest, GROWTH ** index / 1000);
    }
    return this.largest;
  }

  summary(): LatencySummary {
    return {
      p50: toMicros(this.percentile(0.5)),
      p95: toMicros(this.percentile(0.95)),
      p99: toMicros(this.percentile(0.99)),
      max: toMicros(this.total === 0 ? null : this.largest),
    };
  }
}

// Milliseconds rounded to whole microseconds: finer digits are noise.
function toMicros(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}
