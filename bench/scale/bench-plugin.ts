/**
 * A site plugin loaded only by bench:scale (`STRATO_EXTRA_MODULES=bench/scale/bench-plugin.ts`):
 * - global config `benchScale.agentDelayMs`: every simulated agent answers every command this late
 *   (scenario 4, "the simulator answers each host command after 5 s"); 0 clears it;
 * - once a second a line `bench-scale {json}` on stdout: simulated agents this node has reached
 *   (they live in the node's memory, so after a restart the count says how many hosts the new
 *   process has spoken to) and the event loop's delay over that second.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NodeContext, ServiceModule } from '../../src/core/node-context.ts';
import { simulatorFleetOf } from '../../src/plugins/simulator/index.ts';

let timer: NodeJS.Timeout | undefined;
const handles = new WeakMap<NodeContext, () => void>();

const benchPlugin: ServiceModule = {
  id: 'bench-scale',
  setup(ctx: NodeContext) {
    const delay = ctx.config.define({ category: 'benchScale', name: 'agentDelayMs', type: 'number', defaultValue: 0, min: 0, description: 'bench only: simulated agents answer every command this many ms late' });
    const apply = (ms: number) => {
      const fleet = simulatorFleetOf(ctx);
      if (ms > 0) fleet.configure('*', { delayMs: ms });
      else fleet.reset();
    };
    delay.onChange((v) => apply(v));
    handles.set(ctx, () => apply(delay.get()));
  },
  start(ctx: NodeContext) {
    handles.get(ctx)?.(); // the stored value is loaded after setup
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    timer = setInterval(() => {
      const line = { t: Date.now(), agents: simulatorFleetOf(ctx).size, lagMaxMs: lag.max / 1e6, lagP99Ms: lag.percentile(99) / 1e6, rss: process.memoryUsage.rss() };
      lag.reset();
      process.stdout.write(`bench-scale ${JSON.stringify(line)}\n`);
    }, 1000);
    timer.unref();
  },
  stop() {
    if (timer) clearInterval(timer);
  },
};

export default benchPlugin;
