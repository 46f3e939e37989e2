import { AfterVmStartedOnHost, AfterVmStartHostAllocated } from '../../../contracts/vm.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { allocateStartHost } from './allocate-start-host.ts';
import { followStart } from '../network-follow.ts';
import { markStarted } from './mark-started.ts';
import { markPassingState } from './mark-passing-state.ts';
import { startOnHost, type VmFlowDeps } from './start-on-host.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/**
 * `vm.start`: Starting → host (capacity reserved) → `/vm/start` → Running on that host. A failure at
 * any step, inserted ones included, or a node dying mid-way (the chain is journaled), gives the
 * capacity back and leaves the VM in the state and place it had.
 */
export function startVmChain(deps: VmFlowDeps): FlowChain<StartVmCtx> {
  return defineChain<StartVmCtx>('vm.start', [markPassingState<StartVmCtx>('mark-starting', 'Starting', (ctx) => ctx.previousState, deps), allocateStartHost, AfterVmStartHostAllocated, followStart(deps.extensions), startOnHost<StartVmCtx>(deps), AfterVmStartedOnHost, markStarted(deps)]);
}
