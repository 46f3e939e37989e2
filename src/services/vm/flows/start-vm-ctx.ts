import type { AllocateHostReply } from '../../../contracts/host-allocator.ts';
import type { VmState } from '../../../contracts/vm.ts';

/** The context of `vm.start`: what the allocator needs, and what each step made (for rollback). */
export interface StartVmCtx {
  uuid: string;
  /** The state before the start (Stopped, Crashed): what a rollback gives back. */
  previousState: VmState;
  cpuNum: number;
  memorySize: number;
  instanceOfferingUuid?: string;
  allocatorStrategy?: string;
  zoneUuid: string;
  clusterUuid?: string;
  hostUuid?: string;
  lastHostUuid?: string;
  l3NetworkUuids: string[];
  /** The root volume's storage: the host must be in a cluster it is attached to. */
  rootPrimaryStorageUuid?: string;
  host?: AllocateHostReply;
  startSent?: boolean;
  /** Set (and journaled) by mark-started before it writes: the placement its rollback restores. */
  previousPlacement?: { hostUuid: string | null; lastHostUuid: string | null; clusterUuid: string | null };
}
