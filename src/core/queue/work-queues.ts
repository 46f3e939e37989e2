import { AsyncResource } from 'node:async_hooks';
import type { Registry } from 'prom-client';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import { requestContext } from '../bus/context.ts';
import { QueueMetrics, type PrefixStats } from './queue-metrics.ts';

export interface SubmitOptions {
  /** How many tasks of this signature may run at once (default 1: strictly serial). A later, higher value raises the queue's level. */
  syncLevel?: number;
  /** Reject at once (SYS.1100 QUEUE_FULL) when this many tasks already wait in the queue. Default: the constructor's `defaultMaxPending`, else unbounded. */
  maxPending?: number;
  /** Shown in error details; purely descriptive. */
  name?: string;
}

export interface WorkQueueStats {
  /** Signatures with at least one pending or running task. */
  queues: number;
  pending: number;
  running: number;
  submitted: number;
  rejected: number;
  byPrefix: Record<string, { pending: number; running: number }>;
}

/**
 * A task that could not start at once. It extends AsyncResource so that it remembers the async
 * context (every AsyncLocalStorage, RequestContext included) of its submitter without a second
 * allocation, and runs in it later instead of in the context of the task that freed the slot.
 */
class WaitingTask extends AsyncResource {
  next: WaitingTask | null = null;
  constructor(
    readonly task: () => unknown,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
    readonly submittedAt: number,
    /** The submitter's RequestContext deadline: a task whose caller gave up is not started. */
    readonly deadline: number,
    readonly name: string | undefined,
  ) {
    super('strato.WorkQueue');
  }
}

/** One signature's queue: an intrusive linked-list FIFO (O(1) push/pop, no array shifting). */
class SignatureQueue {
  running = 0;
  pending = 0;
  head: WaitingTask | null = null;
  tail: WaitingTask | null = null;
  /** Shared by every task of this queue: attaching it costs no closure per task. */
  readonly done: () => void;

  constructor(
    readonly signature: string,
    public syncLevel: number,
    readonly stats: PrefixStats,
    owner: WorkQueues,
  ) {
    this.done = () => owner.finished(this);
  }
}

/**
 * Per-resource work queues: Strato's concurrency model instead of database locks (ZStack's ChainTask).
 * Tasks with the same signature run in submission order, at most `syncLevel` at once; different
 * signatures run in parallel; a task's failure never blocks its queue; empty queues are dropped.
 *
 * @example
 *   const queues = new WorkQueues({ metrics: registry });
 *   const vm = await queues.submit(`vm-${uuid}`, () => startVm(uuid), { name: 'start-vm' });
 */
export class WorkQueues {
  private readonly queues = new Map<string, SignatureQueue>();
  private readonly metrics: QueueMetrics;
  private readonly defaultMaxPending: number;
  private submitted = 0;
  private rejectedCount = 0;

  constructor(opts: { metrics: Registry; defaultMaxPending?: number }) {
    this.metrics = new QueueMetrics(opts.metrics);
    this.defaultMaxPending = opts.defaultMaxPending ?? Number.POSITIVE_INFINITY;
  }

  submit<T>(signature: string, task: () => Promise<T>, opts?: SubmitOptions): Promise<T> {
    const syncLevel = opts?.syncLevel ?? 1;
    if (!(syncLevel >= 1)) return Promise.reject(new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `syncLevel must be >= 1, got ${syncLevel}`));
    this.submitted++;
    let q = this.queues.get(signature);
    if (q === undefined) {
      q = new SignatureQueue(signature, syncLevel, this.metrics.forSignature(signature), this);
      this.queues.set(signature, q);
    } else if (syncLevel > q.syncLevel) {
      q.syncLevel = syncLevel;
    }

    // Fast path: a free slot and nobody ahead. Start now, in the submitter's own context; the
    // caller gets the task's own promise, so no wrapper promise or closure is allocated.
    if (q.head === null && q.running < q.syncLevel) {
      q.stats.waitSeconds.observe(0);
      return this.start(q, task) as Promise<T>;
    }

    const maxPending = opts?.maxPending ?? this.defaultMaxPending;
    if (q.pending >= maxPending) {
      this.rejectedCount++;
      q.stats.rejected.inc();
      const what = opts?.name ? `${opts.name} on ${signature}` : signature;
      return Promise.reject(new StratoError(SysErrors.QUEUE_FULL, `${what}: ${q.pending} tasks already pending (max ${maxPending})`));
    }

    const deadline = requestContext.getStore()?.deadline ?? Number.POSITIVE_INFINITY;
    return new Promise<T>((resolve, reject) => {
      const w = new WaitingTask(task, resolve as (v: unknown) => void, reject, performance.now(), deadline, opts?.name);
      if (q.tail === null) q.head = w;
      else q.tail.next = w;
      q.tail = w;
      q.pending++;
      q.stats.pending++;
      this.metrics.totalPending++;
    });
  }

  /** Tasks pending plus running under this signature (0 when the queue does not exist). */
  depth(signature: string): number {
    const q = this.queues.get(signature);
    return q === undefined ? 0 : q.pending + q.running;
  }

  stats(): WorkQueueStats {
    const byPrefix: WorkQueueStats['byPrefix'] = {};
    for (const s of this.metrics.byPrefix.values()) byPrefix[s.prefix] = { pending: s.pending, running: s.running };
    return {
      queues: this.queues.size,
      pending: this.metrics.totalPending,
      running: this.metrics.totalRunning,
      submitted: this.submitted,
      rejected: this.rejectedCount,
      byPrefix,
    };
  }

  private start(q: SignatureQueue, task: () => unknown): Promise<unknown> {
    q.running++;
    q.stats.running++;
    this.metrics.totalRunning++;
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(task());
    } catch (e) {
      p = Promise.reject(e);
    }
    // Registered before the caller's own handlers, so the slot is free when the caller resumes.
    p.then(q.done, q.done);
    return p;
  }

  /** @internal called by SignatureQueue.done when one of its tasks settles. */
  finished(q: SignatureQueue): void {
    q.running--;
    q.stats.running--;
    this.metrics.totalRunning--;
    while (q.head !== null && q.running < q.syncLevel) {
      const w = q.head;
      q.head = w.next;
      if (q.head === null) q.tail = null;
      w.next = null;
      q.pending--;
      q.stats.pending--;
      this.metrics.totalPending--;
      w.runInAsyncScope(this.startWaiting, this, q, w);
    }
    if (q.running === 0 && q.head === null) this.queues.delete(q.signature);
  }

  private startWaiting(q: SignatureQueue, w: WaitingTask): void {
    const now = performance.now();
    q.stats.waitSeconds.observe((now - w.submittedAt) / 1000);
    if (w.deadline <= Date.now()) {
      const what = w.name ? `${w.name} on ${q.signature}` : q.signature;
      w.reject(new StratoError(SysErrors.TIMEOUT, `${what}: the caller's deadline passed while the task waited in its queue`));
      return;
    }
    // Resolving with the task's promise adopts its outcome, success or failure, without closures.
    w.resolve(this.start(q, w.task));
  }
}
