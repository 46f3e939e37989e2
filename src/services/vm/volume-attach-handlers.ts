import type { AttachDataVolumeCtx } from '../../contracts/vm-volume.ts';
import { VmVolumeAgentPaths, VmVolumeMessages } from '../../contracts/vm-volume.ts';
import { VM_SERVICE, VmErrors, type VmInstanceView, type VmState } from '../../contracts/vm.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { vmQueueOf } from './create-handler.ts';
import { volumeOnHost } from './flows/attach-volume-on-host.ts';
import type { AttachDataVolumeToVm, DetachDataVolumeFromVm, GetVmAttachableDataVolume } from './volume-apis.ts';
import { callHostAgent } from './vm-agent.ts';
import { loadVm } from './vm-store.ts';

/** ZStack allows attaching and detaching data volumes while a VM is Running or Stopped (Strato: no hot-plug while Paused). */
const VOLUME_OPERATION_STATES: readonly VmState[] = ['Running', 'Stopped'];

function checkVolumeOperationState(operation: string, vm: VmInstanceView): void {
  if (VOLUME_OPERATION_STATES.includes(vm.state)) return;
  throw new StratoError(VmErrors.NOT_IN_CORRECT_STATE, `current vm instance state[${vm.state}] doesn't allow to proceed message[org.zstack.header.volume.API${operation}Msg], allowed states are [${VOLUME_OPERATION_STATES.join(', ')}]`);
}

/** AttachDataVolumeToVm (the `vm.attachDataVolume` chain), DetachDataVolumeFromVm and GetVmAttachableDataVolume; both changes run in the VM's queue. */
export function volumeAttachHandlers(ctx: NodeContext, deps: { attachChain: FlowChain<AttachDataVolumeCtx> }) {
  const { db, queues, flowEngine, bus, extensions, agents, inventories } = ctx;
  const volumeInventory = () => inventories.find('VolumeInventory')!;
  const loadVolume = async (uuid: string) => (await loadInventory(db, volumeInventory(), uuid)) as Record<string, any>;
  const psAttached = async (psUuid: string, clusterUuid: string | null) =>
    !!clusterUuid && !!(await db.selectFrom('primary_storage_cluster_ref').select('clusterUuid').where('primaryStorageUuid', '=', psUuid).where('clusterUuid', '=', clusterUuid).executeTakeFirst());

  return {
    async AttachDataVolumeToVm(msg: Message<ApiParams<typeof AttachDataVolumeToVm>>) {
      const p = msg.body;
      return queues.submit(vmQueueOf(p.vmInstanceUuid), async () => {
        const vm = await loadVm(db, p.vmInstanceUuid);
        const v = await loadVolume(p.volumeUuid);
        checkVolumeOperationState('AttachDataVolumeToVm', vm);
        if (v.type !== 'Data') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is a ${v.type} volume; only data volumes can be attached`);
        if (v.vmInstanceUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is already attached to VM ${v.vmInstanceUuid}`);
        if (v.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is ${v.state}; only an Enabled volume can be attached`);
        if (v.status !== 'Ready' && v.status !== 'NotInstantiated') throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is ${v.status}; only a Ready or NotInstantiated volume can be attached`);
        if (!vm.clusterUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `VM ${vm.uuid} has never been placed in a cluster`);
        if (v.status === 'Ready' && !(await psAttached(v.primaryStorageUuid, vm.clusterUuid))) {
          throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is on primary storage ${v.primaryStorageUuid}, which is not attached to the cluster ${vm.clusterUuid} of VM ${vm.uuid}`);
        }
        await flowEngine.run(deps.attachChain, {
          vmUuid: vm.uuid, volumeUuid: v.uuid, vmState: vm.state, hostUuid: vm.hostUuid ?? vm.lastHostUuid, clusterUuid: vm.clusterUuid,
        }, { resourceUuid: vm.uuid });
        return loadVolume(v.uuid);
      });
    },

    /** Routed by the volume; the detach itself is sent to the VM's owner, to run in the VM's queue. */
    async DetachDataVolumeFromVm(msg: Message<ApiParams<typeof DetachDataVolumeFromVm>>) {
      const p = msg.body;
      const v = await loadVolume(p.uuid);
      if (p.vmUuid) await loadVm(db, p.vmUuid);
      if (v.type !== 'Data') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is a ${v.type} volume; only data volumes can be detached`);
      if (!v.vmInstanceUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is not attached to any VM`);
      if (p.vmUuid && p.vmUuid !== v.vmInstanceUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is attached to VM ${v.vmInstanceUuid}, not to VM ${p.vmUuid}`);
      return bus.call(VM_SERVICE, VmVolumeMessages.detach, { vmUuid: v.vmInstanceUuid, volumeUuid: v.uuid }, { resourceUuid: v.vmInstanceUuid });
    },

    /** A Running VM's host unplugs the volume first; if it fails, the volume stays attached. */
    async [VmVolumeMessages.detach](msg: Message<{ vmUuid: string; volumeUuid: string }>) {
      const p = msg.body;
      return queues.submit(vmQueueOf(p.vmUuid), async () => {
        const vm = await loadVm(db, p.vmUuid);
        checkVolumeOperationState('DetachDataVolumeFromVm', vm);
        const v = await loadVolume(p.volumeUuid);
        if (v.vmInstanceUuid !== vm.uuid) throw new StratoError(SysErrors.OPERATION_ERROR, `data volume ${v.uuid} is not attached to VM ${vm.uuid}`);
        if (vm.state === 'Running') {
          await callHostAgent({ db, extensions, agents }, vm.hostUuid!, VmVolumeAgentPaths.detach, {
            vmInstanceUuid: vm.uuid, volume: volumeOnHost({ vmUuid: vm.uuid, volumeUuid: v.uuid, installPath: v.installPath, deviceId: v.deviceId, format: v.format, primaryStorageUuid: v.primaryStorageUuid } as AttachDataVolumeCtx),
          });
        }
        await db.updateTable('volume').set({ vmInstanceUuid: null, deviceId: null, lastOpDate: Date.now() }).where('uuid', '=', v.uuid).where('vmInstanceUuid', '=', vm.uuid).execute();
        return loadVolume(v.uuid);
      });
    },

    async GetVmAttachableDataVolume(msg: Message<ApiParams<typeof GetVmAttachableDataVolume>>) {
      const vm = await loadVm(db, msg.body.vmInstanceUuid);
      if (!VOLUME_OPERATION_STATES.includes(vm.state) || !vm.clusterUuid) return { inventories: [] };
      const reachable = db.selectFrom('primary_storage_cluster_ref').select('primaryStorageUuid').where('clusterUuid', '=', vm.clusterUuid);
      const rows = await db.selectFrom('volume').selectAll()
        .where('type', '=', 'Data').where('vmInstanceUuid', 'is', null).where('state', '=', 'Enabled')
        .where((eb) => eb.or([eb('status', '=', 'NotInstantiated'), eb.and([eb('status', '=', 'Ready'), eb('primaryStorageUuid', 'in', reachable)])]))
        .orderBy('createDate').orderBy('uuid')
        .execute();
      const inv = volumeInventory();
      return { inventories: rows.map((r) => rowToInventory(inv, r)) };
    },
  };
}
