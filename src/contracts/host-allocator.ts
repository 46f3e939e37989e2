import { strategyPoint } from '../core/plugin/index.ts';

/**
 * Host allocation (ZStack's `compute/allocator`): filters narrow the hosts to those that can take
 * the request, a strategy (chosen by the instance offering's `allocatorStrategy`, one of
 * `HOST_ALLOCATOR_STRATEGIES` in contracts/offering.ts) orders them, then capacity is reserved on
 * the first candidate through `host.ReserveCapacity`; a reservation lost to a concurrent one moves
 * on to the next candidate.
 */

/** A host as filters and strategies see it: its row, with capacities. */
export interface HostCandidate {
  uuid: string;
  name: string;
  zoneUuid: string;
  clusterUuid: string;
  hypervisorType: string;
  state: string;
  status: string;
  totalCpuCapacity: number;
  availableCpuCapacity: number;
  totalMemoryCapacity: number;
  availableMemoryCapacity: number;
}

/** Body of `hostAllocator.Allocate`. */
export interface AllocateHostRequest {
  cpuNum: number;
  /** Bytes; charged through the memory over-provisioning ratio, as `host.ReserveCapacity` does. */
  memorySize: number;
  /** Default: the offering's strategy, else DefaultHostAllocatorStrategy. */
  allocatorStrategy?: string;
  /** Its allocatorStrategy and `hostTag::{tag}` system tags apply. */
  instanceOfferingUuid?: string;
  zoneUuid?: string;
  clusterUuids?: string[];
  /** Only this host (ZStack's DesignatedHostAllocatorFlow). */
  hostUuid?: string;
  hypervisorType?: string;
  /** Never these hosts (a migration's source). */
  avoidHostUuids?: string[];
  /** Tags every chosen host must carry (as user or system tags), besides the offering's. */
  requiredHostTags?: string[];
  /** LastHostPreferredAllocatorStrategy: the VM's previous host, tried first. */
  lastHostUuid?: string;
  /** LeastVmPreferredHostAllocatorStrategy: VMs per host uuid (hosts not listed count 0), given by the caller. */
  vmCountByHost?: Record<string, number>;
}

/** Reply of `hostAllocator.Allocate`: the chosen host, whose capacity is already reserved. */
export interface AllocateHostReply {
  hostUuid: string;
  clusterUuid: string;
  zoneUuid: string;
  cpuNum: number;
  memorySize: number;
  allocatorStrategy: string;
  /** The chosen host's hypervisor type (so the caller need not read the host row for it). */
  hypervisorType?: string;
}

/** Body of `hostAllocator.Release`: give back what an allocation reserved. */
export interface ReleaseHostRequest {
  hostUuid: string;
  cpuNum: number;
  memorySize: number;
}

/** What a strategy is told besides the candidates. */
export interface HostSortSpec {
  request: AllocateHostRequest;
  /** Math.random unless a test fixes it. */
  random: () => number;
}

/**
 * A strategy orders the hosts that passed every filter, best first (ZStack's HostAllocatorStrategyFactory
 * and its sort flows). It may drop none: the allocator walks the list until a reservation succeeds.
 *
 * @example
 *   ctx.extensions.registerStrategy(HostAllocatorStrategyPoint, 'SpreadByRackStrategy', { sort: (hosts) => spreadByRack(hosts) });
 */
export interface HostAllocatorStrategy {
  sort(candidates: readonly HostCandidate[], spec: HostSortSpec): HostCandidate[] | Promise<HostCandidate[]>;
}

export const HostAllocatorStrategyPoint = strategyPoint<HostAllocatorStrategy>('host.allocatorStrategy');

export const HostAllocatorMessages = {
  allocate: 'hostAllocator.Allocate',
  release: 'hostAllocator.Release',
} as const;

/** System tag on an instance offering: hosts chosen for it must carry `{tag}` as a user or system tag. */
export const HOST_TAG_SYSTEM_TAG = 'hostTag::{tag}';

export const HostAllocatorErrors = {
  /** ZStack's HostAllocatorError.NO_AVAILABLE_HOST: the details list why each host was rejected. */
  NO_AVAILABLE_HOST: { code: 'HOST_ALLOCATION.1001', description: 'No host can satisfy the allocation' },
} as const;
