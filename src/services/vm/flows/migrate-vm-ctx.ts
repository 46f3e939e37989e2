import type { AllocateHostReply } from '../../../contracts/host-allocator.ts';
import type { VmState } from '../../../contracts/vm.ts';

/** The context of `vm.migrate` (journaled: JSON only): the VM as it was, and what each step did (for rollback). */
export interface MigrateVmCtx {
  uuid: string;
  cpuNum: number;
  memorySize: number;
  instanceOfferingUuid?: string;
  zoneUuid: string;
  l3NetworkUuids: string[];
  /** The root volume's storage: the target must be in a cluster it is attached to. */
  rootPrimaryStorageUuid?: string;
  /** The host asked for, if any. */
  requestedHostUuid?: string;
  /** Where the VM runs before the migration, and what its row said: rollback puts these back. */
  sourceHostUuid: string;
  previous: { state: VmState; lastHostUuid: string | null; clusterUuid: string | null };
  /** Set by allocate-migrate-target: the capacity reserved on the target. */
  target?: AllocateHostReply;
  /** Set (and journaled) before `/vm/migrate` is sent: rollback then looks for the VM on the target. */
  migrateSent?: boolean;
  /** Set (and journaled) before the source's capacity is given back: rollback takes it again. */
  releasingSource?: boolean;
}
