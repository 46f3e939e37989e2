import type { AllocateHostRequest, HostCandidate } from '../../contracts/host-allocator.ts';

/** A filter keeps the hosts that qualify and says, for each one it drops, why. */
export interface HostFilter {
  readonly name: string;
  reject(host: HostCandidate): string | undefined;
}

export interface FilterInputs {
  request: AllocateHostRequest;
  /** Cluster uuid → state. */
  clusterStates: ReadonlyMap<string, string>;
  /** Host uuid → its user and system tags. */
  hostTags: ReadonlyMap<string, ReadonlySet<string>>;
  /** The offering's and the request's required tags together. */
  requiredTags: readonly string[];
  /** Memory a reservation charges for the request (after over-provisioning). */
  memoryCharged: number;
}

/**
 * ZStack's filter flows in order: avoided hosts, host state and status, cluster state, hypervisor
 * type, host tags, then capacity (HostCapacityAllocatorFlow) last, as it is the likeliest to change.
 */
export function hostFilters(i: FilterInputs): HostFilter[] {
  const r = i.request;
  const avoid = new Set(r.avoidHostUuids ?? []);
  return [
    { name: 'avoid', reject: (h) => (avoid.size && avoid.has(h.uuid) ? 'it is to be avoided' : undefined) },
    { name: 'state', reject: (h) => (h.state !== 'Enabled' ? `its state is ${h.state}, not Enabled` : undefined) },
    { name: 'status', reject: (h) => (h.status !== 'Connected' ? `its status is ${h.status}, not Connected` : undefined) },
    { name: 'cluster-state', reject: (h) => (i.clusterStates.get(h.clusterUuid) !== 'Enabled' ? `its cluster ${h.clusterUuid} is ${i.clusterStates.get(h.clusterUuid) ?? 'gone'}` : undefined) },
    { name: 'hypervisor', reject: (h) => (r.hypervisorType && h.hypervisorType !== r.hypervisorType ? `its hypervisor type is ${h.hypervisorType}, not ${r.hypervisorType}` : undefined) },
    {
      name: 'host-tags',
      reject(h) {
        // Most requests require no tag: nothing to allocate per host then (this runs for every host in scope).
        if (!i.requiredTags.length) return undefined;
        const has = i.hostTags.get(h.uuid) ?? new Set<string>();
        const missing = i.requiredTags.filter((t) => !has.has(t));
        return missing.length ? `it lacks the host tags [${missing.join(', ')}]` : undefined;
      },
    },
    {
      name: 'capacity',
      reject(h) {
        if (h.availableCpuCapacity >= r.cpuNum && h.availableMemoryCapacity >= i.memoryCharged) return undefined;
        return `it has ${h.availableCpuCapacity} CPU and ${h.availableMemoryCapacity} bytes of memory available; ${r.cpuNum} CPU and ${i.memoryCharged} bytes are needed`;
      },
    },
  ];
}

/** Runs the filters in order: each host is judged by the first filter that drops it. */
export function applyFilters(hosts: readonly HostCandidate[], filters: readonly HostFilter[]): { candidates: HostCandidate[]; rejected: Array<{ host: HostCandidate; filter: string; reason: string }> } {
  const candidates: HostCandidate[] = [];
  const rejected: Array<{ host: HostCandidate; filter: string; reason: string }> = [];
  for (const host of hosts) {
    let dropped = false;
    for (const f of filters) {
      const reason = f.reject(host);
      if (reason) {
        rejected.push({ host, filter: f.name, reason });
        dropped = true;
        break;
      }
    }
    if (!dropped) candidates.push(host);
  }
  return { candidates, rejected };
}
