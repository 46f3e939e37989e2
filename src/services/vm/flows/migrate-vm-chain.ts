import { AfterVmMigratedOnHost, AfterVmMigrateTargetAllocated } from '../../../contracts/vm.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { allocateMigrateTarget } from './allocate-migrate-target.ts';
import { followMigrate } from '../network-follow.ts';
import { markPassingState } from './mark-passing-state.ts';
import { migrateOnHost } from './migrate-on-host.ts';
import type { MigrateVmCtx } from './migrate-vm-ctx.ts';
import { recordOnTarget } from './record-on-target.ts';
import { releaseSource } from './release-source.ts';
import type { VmFlowDeps } from './start-on-host.ts';

/**
 * `vm.migrate` (ZStack's VmMigrateFlow chain): target capacity → Migrating → `/vm/migrate` on the source
 * → recorded on the target → source capacity given back. A failure at any step, inserted ones included,
 * or a node dying mid-way (the chain is journaled), leaves the VM running on its source, recorded there,
 * with only the source's capacity held.
 */
export function migrateVmChain(deps: VmFlowDeps): FlowChain<MigrateVmCtx> {
  return defineChain<MigrateVmCtx>('vm.migrate', [
    allocateMigrateTarget, AfterVmMigrateTargetAllocated, markPassingState<MigrateVmCtx>('mark-migrating', 'Migrating', (ctx) => ctx.previous.state, deps), followMigrate(deps.extensions), migrateOnHost(deps), AfterVmMigratedOnHost, recordOnTarget(deps), releaseSource,
  ]);
}
