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

/**
 * The local database server's process (MariaDB on this machine), when there is one: its CPU is the
 * other half of what a statement costs, on the same two cores. Set by run.ts for MariaDB runs.
 */
let databasePid: number | undefined;

export function measureDatabaseProcess(pid: number | undefined): void {
  databasePid = pid;
}

function databaseTicks(): number {
  if (databasePid === undefined) return NaN;
  try {
    return procStat(databasePid).cpuTicks;
  } catch {
    return NaN;
  }
}

/** CPU, peak RSS and the load average of the node over a stretch of work (and the CPU of the database server and of this process). */
export class Window {
  readonly #cpu0: number;
  readonly #db0 = databaseTicks();
  readonly #self0 = process.cpuUsage();
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

  end(): { seconds: number; cpuSeconds: number; cpuShare: number; peakRssMiB: number; rssMiB: number; load: string; lagMaxMs: number; lagP99Ms: number; dbCpuSeconds: number; benchCpuSeconds: number } {
    clearInterval(this.#timer);
    const cpu1 = this.#sample();
    const db1 = databaseTicks();
    const self = process.cpuUsage(this.#self0);
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
      dbCpuSeconds: (db1 - this.#db0) / 100,
      benchCpuSeconds: (self.user + self.system) / 1e6,
    };
  }
}
