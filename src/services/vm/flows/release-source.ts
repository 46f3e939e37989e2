import { HostMessages } from '../../../contracts/host.ts';
import { HostAllocatorMessages } from '../../../contracts/host-allocator.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { MigrateVmCtx } from './migrate-vm-ctx.ts';

/**
 * The source's CPU and memory given back. Journaled as begun before the release, so after a crash the
 * rollback takes them again: holding capacity twice (visible, recoverable) is safer than over-committing.
 */
export const releaseSource: FlowStep<MigrateVmCtx> = {
  name: 'release-source',
  async run(ctx, env) {
    ctx.releasingSource = true;
    await env.checkpoint();
    try {
      await env.services.bus!.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: ctx.sourceHostUuid, cpuNum: ctx.cpuNum, memorySize: ctx.memorySize });
    } catch (e) {
      // The release answered with a failure: nothing was given back, so the rollback must not take it again.
      ctx.releasingSource = false;
      throw e;
    }
  },
  async rollback(ctx, env) {
    if (!ctx.releasingSource) return;
    await env.services.bus!.call('host', HostMessages.reserveCapacity, { hostUuid: ctx.sourceHostUuid, cpuNum: ctx.cpuNum, memorySize: ctx.memorySize }, { resourceUuid: ctx.sourceHostUuid });
    ctx.releasingSource = false;
  },
};
