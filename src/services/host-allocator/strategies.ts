import type { HostAllocatorStrategy, HostCandidate, HostSortSpec } from '../../contracts/host-allocator.ts';
import type { HostAllocatorStrategy as StrategyName } from '../../contracts/offering.ts';

/** Fisher–Yates with the spec's random source. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Sorts by a key, ascending or descending; ties in random order, so equal hosts share the load. */
function byKey(key: (h: HostCandidate) => number, direction: 'asc' | 'desc'): HostAllocatorStrategy {
  return {
    sort(candidates, spec) {
      const sign = direction === 'asc' ? 1 : -1;
      return shuffled(candidates, spec.random)
        .map((h, i) => ({ h, i, k: key(h) }))
        .sort((a, b) => sign * (a.k - b.k) || a.i - b.i)
        .map((x) => x.h);
    },
  };
}

/** DefaultHostAllocatorStrategy: any host with capacity, in random order (ZStack's RandomSortFlow). */
export const defaultStrategy: HostAllocatorStrategy = { sort: (candidates, spec) => shuffled(candidates, spec.random) };

/** LeastVmPreferredHostAllocatorStrategy: fewest VMs first; the counts come from the caller (the VM service). */
export const leastVmPreferred: HostAllocatorStrategy = {
  sort: (candidates, spec: HostSortSpec) => byKey((h) => spec.request.vmCountByHost?.[h.uuid] ?? 0, 'asc').sort(candidates, spec),
};

/** LastHostPreferredAllocatorStrategy: the VM's last host first when it qualifies, then the others at random. */
export const lastHostPreferred: HostAllocatorStrategy = {
  sort(candidates, spec) {
    const last = spec.request.lastHostUuid;
    const rest = shuffled(candidates.filter((h) => h.uuid !== last), spec.random);
    const lastHost = candidates.find((h) => h.uuid === last);
    return lastHost ? [lastHost, ...rest] : rest;
  },
};

/** MinimumCPUUsageHostAllocatorStrategy: the least-used CPU first (the largest share of CPU capacity available). */
export const minimumCpuUsage = byKey((h) => (h.totalCpuCapacity > 0 ? h.availableCpuCapacity / h.totalCpuCapacity : 0), 'desc');

/** MinimumMemoryUsageHostAllocatorStrategy: the least-used memory first (the largest share of memory available). */
export const minimumMemoryUsage = byKey((h) => (h.totalMemoryCapacity > 0 ? h.availableMemoryCapacity / h.totalMemoryCapacity : 0), 'desc');

export const builtinStrategies: Record<StrategyName, HostAllocatorStrategy> = {
  DefaultHostAllocatorStrategy: defaultStrategy,
  LeastVmPreferredHostAllocatorStrategy: leastVmPreferred,
  LastHostPreferredAllocatorStrategy: lastHostPreferred,
  MinimumCPUUsageHostAllocatorStrategy: minimumCpuUsage,
  MinimumMemoryUsageHostAllocatorStrategy: minimumMemoryUsage,
};
