/** Something that must be told when its deadline passes. */
export interface Expirable {
  /** Set by the wheel: which bucket holds it. */
  wheelBucket: number;
  expire(): void;
}

/** setTimeout cannot wait longer than this (2^31-1 ms); longer waits re-arm on wake-up. */
const MAX_TIMER_MS = 0x7fffffff;

/**
 * One timer for all pending calls instead of a setTimeout each: deadlines are grouped into buckets
 * of `resolutionMs`, the earliest live bucket arms a single unref'd timer, and finishing a call is a
 * Set deletion. Expiry is at most one resolution late, never early.
 */
export class DeadlineWheel<T extends Expirable> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Min-heap of bucket numbers; may hold buckets already emptied (skipped lazily). */
  private heap: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedBucket = Number.POSITIVE_INFINITY;

  constructor(private readonly resolutionMs = 10) {}

  get size(): number {
    let n = 0;
    for (const s of this.buckets.values()) n += s.size;
    return n;
  }

  /** Track `item` until `deadline` (epoch ms); an infinite deadline is not tracked. */
  add(item: T, deadline: number): void {
    if (!Number.isFinite(deadline)) {
      item.wheelBucket = Number.NaN;
      return;
    }
    const b = Math.ceil(deadline / this.resolutionMs);
    item.wheelBucket = b;
    let set = this.buckets.get(b);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(b, set);
      this.push(b);
      if (this.heap.length > 1024 && this.heap.length > 4 * this.buckets.size) this.compact();
      if (b < this.armedBucket) this.arm();
    }
    set.add(item);
  }

  delete(item: T): void {
    const set = this.buckets.get(item.wheelBucket);
    if (set === undefined) return;
    set.delete(item);
    if (set.size === 0) this.buckets.delete(item.wheelBucket);
  }

  /** Stop the timer and hand back everything still tracked. */
  drain(): T[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedBucket = Number.POSITIVE_INFINITY;
    const all: T[] = [];
    for (const s of this.buckets.values()) all.push(...s);
    this.buckets.clear();
    this.heap = [];
    return all;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedBucket = Number.POSITIVE_INFINITY;
    const nowBucket = Math.floor(Date.now() / this.resolutionMs);
    while (this.heap.length > 0 && this.heap[0] <= nowBucket) {
      const b = this.pop();
      const set = this.buckets.get(b);
      if (set === undefined) continue;
      this.buckets.delete(b);
      for (const item of set) item.expire();
    }
    this.arm();
  };

  private arm(): void {
    while (this.heap.length > 0 && !this.buckets.has(this.heap[0])) this.pop();
    if (this.heap.length === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.armedBucket = Number.POSITIVE_INFINITY;
      return;
    }
    const b = this.heap[0];
    if (b === this.armedBucket && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, b * this.resolutionMs - Date.now()));
    this.armedBucket = b;
    this.timer = setTimeout(this.fire, delay);
    // Pending calls alone must not keep a process alive.
    this.timer.unref();
  }

  private compact(): void {
    this.heap = [...this.buckets.keys()].sort((a, b) => a - b);
  }

  private push(v: number): void {
    const h = this.heap;
    let i = h.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= v) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = v;
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1] < h[l] ? l + 1 : l;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
