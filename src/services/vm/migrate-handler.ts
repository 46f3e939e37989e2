import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { MigrateVm } from './apis.ts';
import { vmQueueOf } from './create-handler.ts';
import type { MigrateVmCtx } from './flows/migrate-vm-ctx.ts';
import { checkState } from './vm-states.ts';
import { loadVm, vmInventory } from './vm-store.ts';

/**
 * MigrateVm: the request is checked here, in the VM's queue; the work is the journaled `vm.migrate`
 * chain (flows/migrate-vm-chain.ts), so a failure at any step, or a node dying mid-way, is rolled back.
 */
export function migrateHandler(ctx: NodeContext, deps: { migrateChain: FlowChain<MigrateVmCtx> }) {
  const { db, queues, flowEngine, inventories } = ctx;
  return {
    async MigrateVm(msg: Message<ApiParams<typeof MigrateVm>>) {
      const p = msg.body;
      return queues.submit(vmQueueOf(p.uuid), async () => {
        const vm = await loadVm(db, p.uuid);
        checkState('MigrateVm', vm);
        if (p.hostUuid && !(await db.selectFrom('host').select('uuid').where('uuid', '=', p.hostUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${p.hostUuid}]`);
        if (p.hostUuid === vm.hostUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `VM ${vm.uuid} is already on host ${p.hostUuid}`);
        const nics = await db.selectFrom('vm_nic').select('l3NetworkUuid').where('vmInstanceUuid', '=', vm.uuid).execute();
        const root = vm.rootVolumeUuid ? await db.selectFrom('volume').select('primaryStorageUuid').where('uuid', '=', vm.rootVolumeUuid).executeTakeFirst() : undefined;
        await flowEngine.run(deps.migrateChain, {
          uuid: vm.uuid, cpuNum: vm.cpuNum, memorySize: vm.memorySize, instanceOfferingUuid: vm.instanceOfferingUuid ?? undefined, zoneUuid: vm.zoneUuid!,
          l3NetworkUuids: nics.map((n) => n.l3NetworkUuid as string), rootPrimaryStorageUuid: (root?.primaryStorageUuid as string | null) ?? undefined,
          requestedHostUuid: p.hostUuid, sourceHostUuid: vm.hostUuid!, previous: { state: vm.state, lastHostUuid: vm.lastHostUuid, clusterUuid: vm.clusterUuid },
        }, { resourceUuid: vm.uuid });
        return vmInventory(db, vm.uuid, inventories);
      });
    },
  };
}
