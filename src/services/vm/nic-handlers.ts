import { SecurityGroupMessages } from '../../contracts/security-group.ts';
import { L3NetworkMessages } from '../../contracts/network.ts';
import { VmErrors, VM_SERVICE, type VmInstanceView } from '../../contracts/vm.ts';
import { VmNicAgentPaths, VmNicLifecyclePoint, VmNicMessages, type AttachNicCtx, type VmNicRef } from '../../contracts/vm-nic.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { vmQueueOf } from './create-handler.ts';
import type { AttachL3NetworkToVm, ChangeInstanceOffering, DetachL3NetworkFromVm } from './nic-apis.ts';
import { announceNicsLeftHost } from './network-follow.ts';
import { callHostAgent } from './vm-agent.ts';
import { changeVmState, loadVm, vmInventory } from './vm-store.ts';

const NIC_STATES = ['Running', 'Stopped'];

function requireState(operation: string, vm: { state: string }, allowed: readonly string[]): void {
  if (allowed.includes(vm.state)) return;
  throw new StratoError(VmErrors.NOT_IN_CORRECT_STATE, `current vm instance state[${vm.state}] doesn't allow to proceed message[org.zstack.header.vm.API${operation}Msg], allowed states are [${allowed.join(', ')}]`);
}

/**
 * AttachL3NetworkToVm (the `vm.attachNic` chain), DetachL3NetworkFromVm and its internal
 * `vm.DetachNic` (also what an L3 network's deletion sends), ChangeInstanceOffering: each in the VM's queue.
 */
export function nicHandlers(ctx: NodeContext, deps: { attachChain: FlowChain<AttachNicCtx> }) {
  const { db, queues, bus, extensions, agents, inventories, flowEngine } = ctx;
  const agentDeps = { db, extensions, agents };

  /** Unplug (when on a host), let EIPs and security groups go, give the IP back, move the default L3. The caller holds the VM's queue. */
  async function detach(vm: VmInstanceView, nic: Record<string, any>, cascade: boolean): Promise<void> {
    if (vm.hostUuid && vm.state !== 'Stopped') {
      const unplug = callHostAgent(agentDeps, vm.hostUuid, VmNicAgentPaths.detachNic, { vmInstanceUuid: vm.uuid, nic: { uuid: nic.uuid, mac: nic.mac, deviceId: Number(nic.deviceId), internalName: nic.internalName } });
      // The L3 network goes regardless (ZStack's cascade does not stop on the hypervisor): the NIC is gone with it.
      if (cascade) await unplug.catch(() => undefined);
      else await unplug;
    }
    const ref: VmNicRef = { uuid: nic.uuid, vmInstanceUuid: vm.uuid, l3NetworkUuid: nic.l3NetworkUuid, ip: nic.ip ?? null };
    await extensions.callSafe(VmNicLifecyclePoint, 'beforeNicsDeleted', [ref]);
    await bus.call('securityGroup', SecurityGroupMessages.removeVmNics, { vmNicUuids: [nic.uuid] });
    await db.deleteFrom('vm_nic').where('uuid', '=', nic.uuid).execute();
    if (vm.hostUuid && vm.state !== 'Stopped') await announceNicsLeftHost(ctx, vm, vm.hostUuid, [{ uuid: nic.uuid, vmInstanceUuid: vm.uuid, l3NetworkUuid: nic.l3NetworkUuid, ip: nic.ip ?? null, mac: nic.mac, netmask: nic.netmask ?? null, gateway: nic.gateway ?? null, deviceId: Number(nic.deviceId), type: nic.type, internalName: nic.internalName }]);
    if (nic.usedIpUuid) await bus.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: nic.usedIpUuid }, { resourceUuid: nic.l3NetworkUuid });
    if (vm.defaultL3NetworkUuid === nic.l3NetworkUuid) {
      const next = await db.selectFrom('vm_nic').select('l3NetworkUuid').where('vmInstanceUuid', '=', vm.uuid).orderBy('deviceId').executeTakeFirst();
      await changeVmState(ctx, vm, vm.state, { defaultL3NetworkUuid: (next?.l3NetworkUuid as string | undefined) ?? null });
    }
  }

  return {
    async AttachL3NetworkToVm(msg: Message<ApiParams<typeof AttachL3NetworkToVm>>) {
      const p = msg.body;
      return queues.submit(vmQueueOf(p.vmInstanceUuid), async () => {
        const vm = await loadVm(db, p.vmInstanceUuid);
        requireState('AttachL3NetworkToVm', vm, NIC_STATES);
        const l3 = await db.selectFrom('l3_network').select(['uuid', 'zoneUuid', 'l2NetworkUuid', 'state']).where('uuid', '=', p.l3NetworkUuid).executeTakeFirst();
        if (!l3) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L3Network[uuid:${p.l3NetworkUuid}]`);
        if (l3.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `unable to attach the L3 network[uuid:${l3.uuid}] to the VM[uuid:${vm.uuid}]: it is ${String(l3.state)}`);
        if (l3.zoneUuid !== vm.zoneUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `the L3 network[uuid:${l3.uuid}] is in zone ${String(l3.zoneUuid)}, the VM[uuid:${vm.uuid}] in zone ${String(vm.zoneUuid)}`);
        const nics = await db.selectFrom('vm_nic').select(['l3NetworkUuid', 'deviceId']).where('vmInstanceUuid', '=', vm.uuid).execute();
        if (nics.some((n) => n.l3NetworkUuid === l3.uuid)) throw new StratoError(SysErrors.OPERATION_ERROR, `unable to attach a L3 network. The L3 network[uuid:${l3.uuid}] is already attached to the vm[uuid: ${vm.uuid}]`);
        if (vm.state === 'Running') {
          const reach = await db.selectFrom('l2_network_cluster_ref').select('id').where('l2NetworkUuid', '=', l3.l2NetworkUuid).where('clusterUuid', '=', vm.clusterUuid).executeTakeFirst();
          if (!reach) throw new StratoError(SysErrors.OPERATION_ERROR, `the L2 network[uuid:${String(l3.l2NetworkUuid)}] of the L3 network[uuid:${l3.uuid}] is not attached to the cluster[uuid:${String(vm.clusterUuid)}] of the running VM[uuid:${vm.uuid}]`);
        }
        const used = new Set(nics.map((n) => Number(n.deviceId)));
        let deviceId = 0;
        while (used.has(deviceId)) deviceId++;
        const flowCtx: AttachNicCtx = { vmUuid: vm.uuid, l3NetworkUuid: l3.uuid as string, staticIp: p.staticIp, nicUuid: newUuid(), deviceId, hostUuid: vm.state === 'Running' ? (vm.hostUuid ?? undefined) : undefined };
        await flowEngine.run(deps.attachChain, flowCtx, { resourceUuid: vm.uuid });
        return vmInventory(db, vm.uuid, inventories);
      });
    },

    /** The API routes by the NIC's uuid: the detach itself goes to the VM's owner, in its queue. */
    async DetachL3NetworkFromVm(msg: Message<ApiParams<typeof DetachL3NetworkFromVm>>) {
      const nic = await db.selectFrom('vm_nic').select('vmInstanceUuid').where('uuid', '=', msg.body.vmNicUuid).executeTakeFirst();
      if (!nic) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find VmNic[uuid:${msg.body.vmNicUuid}]`);
      const vmUuid = nic.vmInstanceUuid as string;
      await bus.call(VM_SERVICE, VmNicMessages.detachNic, { vmNicUuid: msg.body.vmNicUuid }, { resourceUuid: vmUuid });
      return vmInventory(db, vmUuid, inventories);
    },

    async [VmNicMessages.detachNic](msg: Message<{ vmNicUuid: string; cascade?: boolean }>) {
      const first = await db.selectFrom('vm_nic').select('vmInstanceUuid').where('uuid', '=', msg.body.vmNicUuid).executeTakeFirst();
      if (!first) return {};
      return queues.submit(vmQueueOf(first.vmInstanceUuid as string), async () => {
        const nic = await db.selectFrom('vm_nic').selectAll().where('uuid', '=', msg.body.vmNicUuid).executeTakeFirst();
        if (!nic) return {};
        const vm = await loadVm(db, nic.vmInstanceUuid as string);
        if (!msg.body.cascade) requireState('DetachL3NetworkFromVm', vm, NIC_STATES);
        await detach(vm, nic, msg.body.cascade ?? false);
        return {};
      });
    },

    /** Stopped only: ZStack changes a Running VM's offering with CPU/memory hot-plug, which Strato's agents do not do. */
    async ChangeInstanceOffering(msg: Message<ApiParams<typeof ChangeInstanceOffering>>) {
      const p = msg.body;
      return queues.submit(vmQueueOf(p.uuid), async () => {
        const vm = await loadVm(db, p.uuid);
        const io = await db.selectFrom('instance_offering').select(['uuid', 'cpuNum', 'memorySize', 'cpuSpeed', 'allocatorStrategy', 'state']).where('uuid', '=', p.instanceOfferingUuid).executeTakeFirst();
        if (!io) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find InstanceOffering[uuid:${p.instanceOfferingUuid}]`);
        requireState('ChangeInstanceOffering', vm, ['Stopped']);
        if (io.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `instance offering ${io.uuid} is ${String(io.state)}`);
        await changeVmState(ctx, vm, vm.state, {
          instanceOfferingUuid: io.uuid, cpuNum: Number(io.cpuNum), memorySize: Number(io.memorySize), cpuSpeed: Number(io.cpuSpeed),
          allocatorStrategy: (io.allocatorStrategy as string | null) ?? vm.allocatorStrategy,
        });
        return vmInventory(db, vm.uuid, inventories);
      });
    },
  };
}
