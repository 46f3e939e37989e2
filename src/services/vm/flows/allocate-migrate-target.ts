import { HostAllocatorMessages, type AllocateHostReply } from '../../../contracts/host-allocator.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { candidateClusters, noCluster } from './allocate-host.ts';
import type { MigrateVmCtx } from './migrate-vm-ctx.ts';

/** Capacity on the target: the host asked for, or the allocator's choice among hosts that reach the root volume's storage and the VM's L2 networks, never the source. */
export const allocateMigrateTarget: FlowStep<MigrateVmCtx> = {
  name: 'allocate-migrate-target',
  async run(ctx, env) {
    const spec = { zoneUuid: ctx.zoneUuid, l3NetworkUuids: ctx.l3NetworkUuids, primaryStorageUuid: ctx.rootPrimaryStorageUuid };
    const clusterUuids = await candidateClusters(env.services.db!, spec);
    if (!clusterUuids.length) throw noCluster(spec);
    ctx.target = await env.services.bus!.call<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, {
      cpuNum: ctx.cpuNum, memorySize: ctx.memorySize, zoneUuid: ctx.zoneUuid, clusterUuids, hostUuid: ctx.requestedHostUuid,
      avoidHostUuids: [ctx.sourceHostUuid], instanceOfferingUuid: ctx.instanceOfferingUuid,
    });
    await env.checkpoint();
  },
  async rollback(ctx, env) {
    if (!ctx.target) return;
    await env.services.bus!.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: ctx.target.hostUuid, cpuNum: ctx.target.cpuNum, memorySize: ctx.target.memorySize });
    ctx.target = undefined; // idempotent: a second rollback (after a crash) gives nothing back twice
  },
};
