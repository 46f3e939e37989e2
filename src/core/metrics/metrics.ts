import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Each management node (and each test node in one process) owns one Prometheus registry;
 * components take it in their constructor and register their own collectors on it.
 */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const r = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: r });
  return r;
}

export type { Registry } from 'prom-client';
