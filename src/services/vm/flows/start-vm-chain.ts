import { AfterVmStartHostAllocated, AfterVmStartedOnHost } from '../../../contracts/vm.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { allocateStartHost } from './allocate-start-host.ts';
import { markStarted } from './mark-started.ts';
import { startOnHost, type VmFlowDeps } from './start-on-host.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/** `vm.start`: host (capacity reserved) → `/vm/start` → recorded; a failure at any step, inserted ones included, gives the capacity back. */
export function startVmChain(deps: VmFlowDeps): FlowChain<StartVmCtx> {
  return defineChain<StartVmCtx>('vm.start', [allocateStartHost, AfterVmStartHostAllocated, startOnHost<StartVmCtx>(deps), AfterVmStartedOnHost, markStarted]);
}
