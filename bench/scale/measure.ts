/** What a scenario records: rows for the report, each with the load average around it and its ratios to the baselines. */
import { loadavg } from 'node:os';
import { procStat, type NodeProcess } from './node-process.ts';

export interface Baselines {
  helloRps: number;
  sqliteInsertsPerSec: number;
}

export interface Row {
  scenario: string;
  figure: string;
  measured: string;
  load: string;
  /** A throughput (per second) or a duration (ms) the ratios are computed from. */
  rate?: number;
  ms?: number;
  target: string;
  met?: boolean;
}

/** Ratio cells: a rate divided by the baseline's; a duration as the number of baseline operations that fit in it. */
export function ratios(row: Row, b: Baselines): [string, string] {
  if (row.rate !== undefined) return [(row.rate / b.helloRps).toFixed(4), (row.rate / b.sqliteInsertsPerSec).toFixed(4)];
  if (row.ms !== undefined) return [`${((row.ms * b.helloRps) / 1000).toFixed(0)} req`, `${((row.ms * b.sqliteInsertsPerSec) / 1000).toFixed(0)} inserts`];
  return ['—', '—'];
}

/** CPU, peak RSS and the load average of the node over a stretch of work. */
export class Window {
  readonly #cpu0: number;
  readonly #t0 = performance.now();
  readonly #since = Date.now();
  readonly #load0 = loadavg()[0];
  #peakRss = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly node: NodeProcess) {
    this.#cpu0 = procStat(node.pid).cpuTicks;
    this.#timer = setInterval(() => this.#sample(), 500);
  }

  #sample(): number {
    try {
      const s = procStat(this.node.pid);
      this.#peakRss = Math.max(this.#peakRss, s.rssBytes);
      return s.cpuTicks;
    } catch {
      return NaN;
    }
  }

  end(): { seconds: number; cpuSeconds: number; cpuShare: number; peakRssMiB: number; rssMiB: number; load: string; lagMaxMs: number; lagP99Ms: number } {
    clearInterval(this.#timer);
    const cpu1 = this.#sample();
    const seconds = (performance.now() - this.#t0) / 1000;
    const cpuSeconds = (cpu1 - this.#cpu0) / 100;
    const stats = this.node.statsSince(this.#since);
    const rss = procStat(this.node.pid).rssBytes;
    return {
      seconds,
      cpuSeconds,
      cpuShare: cpuSeconds / seconds,
      peakRssMiB: this.#peakRss / 2 ** 20,
      rssMiB: rss / 2 ** 20,
      load: `${this.#load0.toFixed(1)}→${loadavg()[0].toFixed(1)}`,
      lagMaxMs: Math.max(0, ...stats.map((s) => s.lagMaxMs)),
      lagP99Ms: Math.max(0, ...stats.map((s) => s.lagP99Ms)),
    };
  }
}
