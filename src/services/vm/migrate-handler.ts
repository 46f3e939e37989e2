import { HostAllocatorMessages, type AllocateHostReply } from '../../contracts/host-allocator.ts';
import { VmAgentPaths } from '../../contracts/vm.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { MigrateVm } from './apis.ts';
import { vmQueueOf } from './create-handler.ts';
import { releaseVmHost } from './expunge.ts';
import { candidateClusters, noCluster } from './flows/allocate-host.ts';
import { callHostAgent } from './vm-agent.ts';
import { checkState } from './vm-states.ts';
import { changeVmState, loadVm, vmInventory } from './vm-store.ts';

/**
 * MigrateVm: the target's capacity is reserved first (the given host, or the allocator's choice among
 * hosts that reach the root volume's storage and the VM's L2 networks, the source avoided), then the
 * source's agent migrates; the source's capacity is given back only once the VM is on the target.
 */
export function migrateHandler(ctx: NodeContext) {
  const { db, queues, bus, extensions, agents, inventories } = ctx;
  return {
    async MigrateVm(msg: Message<ApiParams<typeof MigrateVm>>) {
      const p = msg.body;
      return queues.submit(vmQueueOf(p.uuid), async () => {
        const vm = await loadVm(db, p.uuid);
        checkState('MigrateVm', vm);
        if (p.hostUuid && !(await db.selectFrom('host').select('uuid').where('uuid', '=', p.hostUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${p.hostUuid}]`);
        if (p.hostUuid === vm.hostUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `VM ${vm.uuid} is already on host ${p.hostUuid}`);
        const source = vm.hostUuid!;
        const nics = await db.selectFrom('vm_nic').select('l3NetworkUuid').where('vmInstanceUuid', '=', vm.uuid).execute();
        const root = vm.rootVolumeUuid ? await db.selectFrom('volume').select('primaryStorageUuid').where('uuid', '=', vm.rootVolumeUuid).executeTakeFirst() : undefined;
        const spec = { zoneUuid: vm.zoneUuid!, l3NetworkUuids: nics.map((n) => n.l3NetworkUuid as string), primaryStorageUuid: (root?.primaryStorageUuid as string | null) ?? undefined };
        const clusterUuids = await candidateClusters(db, spec);
        if (!clusterUuids.length) throw noCluster(spec);
        const target = await bus.call<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, {
          cpuNum: vm.cpuNum, memorySize: vm.memorySize, zoneUuid: vm.zoneUuid, clusterUuids, hostUuid: p.hostUuid, avoidHostUuids: [source], instanceOfferingUuid: vm.instanceOfferingUuid ?? undefined,
        });
        let migrating: Awaited<ReturnType<typeof changeVmState>> | undefined;
        try {
          // Inside the try: whatever fails from here on gives the target's reservation back.
          migrating = await changeVmState(ctx, vm, 'Migrating');
          const dest = await db.selectFrom('host').select('managementIp').where('uuid', '=', target.hostUuid).executeTakeFirstOrThrow();
          await callHostAgent({ db, extensions, agents }, source, VmAgentPaths.migrate, { vmInstanceUuid: vm.uuid, destHostUuid: target.hostUuid, destHostManagementIp: dest.managementIp });
        } catch (e) {
          await bus.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: target.hostUuid, cpuNum: target.cpuNum, memorySize: target.memorySize });
          if (migrating) await changeVmState(ctx, migrating, vm.state);
          throw e;
        }
        // The VM runs on the target now: record that before freeing the source, so a failure freeing it
        // leaves the database telling the truth (and only leaked capacity on the source, not a lost VM).
        await changeVmState(ctx, migrating, vm.state, { hostUuid: target.hostUuid, lastHostUuid: source, clusterUuid: target.clusterUuid });
        await releaseVmHost(bus, vm);
        return vmInventory(db, vm.uuid, inventories);
      });
    },
  };
}
