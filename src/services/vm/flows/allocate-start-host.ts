import { HostAllocatorMessages, type AllocateHostReply } from '../../../contracts/host-allocator.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { candidateClusters, noCluster } from './allocate-host.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/** A host again for a stopped VM: where its root volume's storage and its L2 networks reach, the last host preferred. */
export const allocateStartHost: FlowStep<StartVmCtx> = {
  name: 'allocate-start-host',
  async run(ctx, env) {
    const spec = { zoneUuid: ctx.zoneUuid, clusterUuid: ctx.clusterUuid, l3NetworkUuids: ctx.l3NetworkUuids, primaryStorageUuid: ctx.rootPrimaryStorageUuid };
    const clusterUuids = await candidateClusters(env.services.db!, spec);
    if (!clusterUuids.length) throw noCluster(spec);
    ctx.host = await env.services.bus!.call<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, {
      cpuNum: ctx.cpuNum, memorySize: ctx.memorySize, instanceOfferingUuid: ctx.instanceOfferingUuid, zoneUuid: ctx.zoneUuid, clusterUuids, hostUuid: ctx.hostUuid,
      allocatorStrategy: ctx.allocatorStrategy, lastHostUuid: ctx.lastHostUuid,
    });
    await env.checkpoint();
  },
  async rollback(ctx, env) {
    if (!ctx.host) return;
    await env.services.bus!.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: ctx.host.hostUuid, cpuNum: ctx.host.cpuNum, memorySize: ctx.host.memorySize });
  },
};
