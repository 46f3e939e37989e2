import { Registry } from 'prom-client';
import { WorkQueues } from './work-queues.ts';

/**
 * Work-queue throughput for trivial tasks, in tasks per second: all submitted at once over
 * `signatures` distinct signatures (0: every task its own signature). For bench/core; not a test.
 *
 * @example
 *   console.log(await benchWorkQueues({ tasks: 300_000, signatures: 100 }));
 */
export async function benchWorkQueues(opts: { tasks?: number; signatures?: number } = {}): Promise<{ tasksPerSecond: number }> {
  const n = opts.tasks ?? 300_000;
  const sigs = opts.signatures ?? 100;
  const queues = new WorkQueues({ metrics: new Registry() });
  const task = async () => 1;
  const names = Array.from({ length: sigs }, (_, i) => `vm-${i}`);
  const t0 = performance.now();
  const all: Promise<number>[] = new Array(n);
  for (let i = 0; i < n; i++) all[i] = queues.submit(sigs === 0 ? `vm-${i}` : names[i % sigs], task);
  await Promise.all(all);
  return { tasksPerSecond: Math.round(n / ((performance.now() - t0) / 1000)) };
}
