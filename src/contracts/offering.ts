import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint } from '../core/plugin/index.ts';

/**
 * Instance and disk offerings (ZStack's `configuration` module): what a VM or a data volume is
 * created from. The VM and volume services read them through these views and messages.
 */

/** ZStack's built-in host allocator strategies, the values `allocatorStrategy` accepts. */
export const HOST_ALLOCATOR_STRATEGIES = [
  'DefaultHostAllocatorStrategy',
  'LeastVmPreferredHostAllocatorStrategy',
  'LastHostPreferredAllocatorStrategy',
  'MinimumCPUUsageHostAllocatorStrategy',
  'MinimumMemoryUsageHostAllocatorStrategy',
] as const;
export type HostAllocatorStrategy = (typeof HOST_ALLOCATOR_STRATEGIES)[number];

export const DEFAULT_HOST_ALLOCATOR_STRATEGY: HostAllocatorStrategy = 'DefaultHostAllocatorStrategy';
export const DEFAULT_DISK_ALLOCATION_STRATEGY = 'DefaultPrimaryStorageAllocationStrategy';

export interface InstanceOfferingView {
  uuid: string;
  name: string;
  description?: string | null;
  cpuNum: number;
  cpuSpeed: number;
  memorySize: number;
  reservedMemorySize: number;
  type: string;
  allocatorStrategy: string;
  sortKey: number;
  state: 'Enabled' | 'Disabled';
}

export interface DiskOfferingView {
  uuid: string;
  name: string;
  description?: string | null;
  diskSize: number;
  sortKey: number;
  state: 'Enabled' | 'Disabled';
  type: string;
  allocatorStrategy: string;
}

export interface CreateInstanceOfferingCtx {
  uuid: string;
  name: string;
  description?: string;
  cpuNum: number;
  cpuSpeed: number;
  memorySize: number;
  reservedMemorySize: number;
  allocatorStrategy: string;
  sortKey: number;
  type: string;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}

export interface CreateDiskOfferingCtx {
  uuid: string;
  name: string;
  description?: string;
  diskSize: number;
  sortKey: number;
  allocatorStrategy: string;
  type: string;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}

export const AfterInstanceOfferingPersisted = insertionPoint<CreateInstanceOfferingCtx>('instance-offering.create.afterPersisted');
export const AfterDiskOfferingPersisted = insertionPoint<CreateDiskOfferingCtx>('disk-offering.create.afterPersisted');

/** Observers of offerings; `pre*` hooks veto by throwing (e.g. a plugin that pins offerings in use). */
export interface OfferingLifecycle {
  preDeleteInstanceOffering?(offering: InstanceOfferingView): void | Promise<void>;
  afterDeleteInstanceOffering?(offering: InstanceOfferingView): void | Promise<void>;
  preDeleteDiskOffering?(offering: DiskOfferingView): void | Promise<void>;
  afterDeleteDiskOffering?(offering: DiskOfferingView): void | Promise<void>;
}

export const OfferingLifecyclePoint = observerPoint<OfferingLifecycle>('offering.lifecycle');

export const OfferingEvents = {
  instanceOfferingDeleted: 'instance-offering.deleted',
  diskOfferingDeleted: 'disk-offering.deleted',
} as const;
