import { Registry } from 'prom-client';
import { Bus } from './bus.ts';

/**
 * In-process bus throughput for a trivial handler, in calls per second, with `concurrency` callers
 * each awaiting its calls one after another. For bench/core; not a test.
 *
 * @example
 *   console.log(await benchBusCalls({ calls: 300_000, concurrency: 1000 }));
 */
export async function benchBusCalls(opts: { calls?: number; concurrency?: number } = {}): Promise<{ callsPerSecond: number }> {
  const calls = opts.calls ?? 300_000;
  const bus = new Bus({ nodeUuid: '0'.repeat(32), metrics: new Registry() });
  bus.registerService({ id: 'echo', handle: async (m) => m.body });
  let issued = 0;
  const worker = async () => {
    while (issued < calls) {
      issued++;
      await bus.call('echo', 'Echo', issued);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency ?? 1000 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  bus.close();
  return { callsPerSecond: Math.round(calls / seconds) };
}
