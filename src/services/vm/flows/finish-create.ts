import { HostAllocatorMessages } from '../../../contracts/host-allocator.ts';
import type { CreateVmCtx } from '../../../contracts/vm.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import { updateByUuid } from './hot-sql.ts';

/**
 * The last step: Running on its host, or (CreateStopped) Stopped with the host capacity given back
 * and the host kept as `lastHostUuid`, as ZStack does. Nothing after it can fail.
 */
export const finishCreate: FlowStep<CreateVmCtx> = {
  name: 'finish-create',
  async run(ctx, env) {
    const db = env.services.db!;
    const host = ctx.host!;
    if (ctx.strategy === 'CreateStopped') {
      await env.services.bus!.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: host.hostUuid, cpuNum: host.cpuNum, memorySize: host.memorySize });
      ctx.hostReleased = true;
      await db.updateTable('vm_instance').set({ state: 'Stopped', hostUuid: null, lastHostUuid: host.hostUuid, lastOpDate: Date.now() }).where('uuid', '=', ctx.uuid).execute();
    } else {
      await updateByUuid(db, 'vm_instance', { state: 'Running', hostUuid: host.hostUuid, lastHostUuid: host.hostUuid, lastOpDate: Date.now() }, ctx.uuid);
    }
  },
  rollback: noRollback,
};
