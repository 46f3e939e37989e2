import { AfterVmHostAllocated, AfterVmInstantiated, AfterVmPersisted, AfterVmVolumesAllocated, BeforeVmInstantiate, type CreateVmCtx } from '../../../contracts/vm.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { allocateDataVolumes } from './allocate-data-volumes.ts';
import { allocateHost } from './allocate-host.ts';
import { allocateNics } from './allocate-nics.ts';
import { allocateRootVolume } from './allocate-root-volume.ts';
import { finishCreate } from './finish-create.ts';
import { followCreate } from '../network-follow.ts';
import { persistVm } from './persist-vm.ts';
import { selectBackupStorage } from './select-backup-storage.ts';
import { startOnHost, type VmFlowDeps } from './start-on-host.ts';

/**
 * `vm.create` (ZStack's VmInstantiateFlow chain): row → host → backup storage → root volume → data
 * volumes → NICs and IPs → start on the host → Running. A failure at any step, inserted ones included,
 * gives back the host capacity, the storage space, the IPs and the volumes, and removes the row.
 */
export function createVmChain(deps: VmFlowDeps): FlowChain<CreateVmCtx> {
  return defineChain<CreateVmCtx>('vm.create', [
    persistVm, createTagsStep<CreateVmCtx>('VmInstanceVO'), AfterVmPersisted,
    allocateHost, AfterVmHostAllocated,
    selectBackupStorage, allocateRootVolume, allocateDataVolumes, AfterVmVolumesAllocated,
    allocateNics, BeforeVmInstantiate, followCreate(deps.extensions),
    startOnHost<CreateVmCtx>(deps), AfterVmInstantiated,
    finishCreate,
  ]);
}
