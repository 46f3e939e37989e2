import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Live counts for one signature prefix ('vm' for 'vm-<uuid>'). Plain numbers updated on the hot
 * path; the gauges read them only when Prometheus scrapes, so a task costs no label lookups.
 */
export class PrefixStats {
  pending = 0;
  running = 0;
  constructor(
    readonly prefix: string,
    /** Pre-bound histogram child: observing through it skips prom-client's label hashing. */
    readonly waitSeconds: { observe(v: number): void },
    readonly rejected: { inc(): void },
  ) {}
}

/** Above this many distinct prefixes, new ones are folded into 'other' to bound label cardinality. */
const MAX_PREFIXES = 64;

export class QueueMetrics {
  readonly byPrefix = new Map<string, PrefixStats>();
  totalPending = 0;
  totalRunning = 0;
  private readonly wait: Histogram<'prefix'>;
  private readonly rejected: Counter<'prefix'>;

  constructor(registry: Registry) {
    // prom-client calls collect() with the gauge as `this`; read our counts through the closure instead.
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    new Gauge({
      name: 'strato_queue_pending_tasks',
      help: 'Tasks waiting in a work queue (all signatures)',
      registers: [registry],
      collect() { this.set(self.totalPending); },
    });
    new Gauge({
      name: 'strato_queue_running_tasks',
      help: 'Tasks running in a work queue (all signatures)',
      registers: [registry],
      collect() { this.set(self.totalRunning); },
    });
    new Gauge({
      name: 'strato_queue_pending_tasks_by_prefix',
      help: 'Tasks waiting in work queues, by signature prefix (the part before the first "-")',
      labelNames: ['prefix'],
      registers: [registry],
      collect() { for (const s of self.byPrefix.values()) this.set({ prefix: s.prefix }, s.pending); },
    });
    new Gauge({
      name: 'strato_queue_running_tasks_by_prefix',
      help: 'Tasks running in work queues, by signature prefix',
      labelNames: ['prefix'],
      registers: [registry],
      collect() { for (const s of self.byPrefix.values()) this.set({ prefix: s.prefix }, s.running); },
    });
    this.wait = new Histogram({
      name: 'strato_queue_wait_seconds',
      help: 'Time between submitting a task and its start, by signature prefix',
      labelNames: ['prefix'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120, 600],
      registers: [registry],
    });
    this.rejected = new Counter({
      name: 'strato_queue_rejected_tasks_total',
      help: 'Tasks refused because their queue was full, by signature prefix',
      labelNames: ['prefix'],
      registers: [registry],
    });
  }

  /** The stats bucket for a signature; called once per queue creation, not per task. */
  forSignature(signature: string): PrefixStats {
    const dash = signature.indexOf('-');
    let prefix = dash < 0 ? signature : signature.slice(0, dash);
    let s = this.byPrefix.get(prefix);
    if (s) return s;
    if (this.byPrefix.size >= MAX_PREFIXES) {
      prefix = 'other';
      s = this.byPrefix.get(prefix);
      if (s) return s;
    }
    s = new PrefixStats(prefix, this.wait.labels(prefix), this.rejected.labels(prefix));
    this.byPrefix.set(prefix, s);
    return s;
  }
}
