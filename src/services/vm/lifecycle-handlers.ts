import { VmAgentPaths, VmLifecyclePoint, type VmInstanceView, type VmState } from '../../contracts/vm.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import type { DestroyVmInstance, ExpungeVmInstance, PauseVmInstance, RebootVmInstance, RecoverVmInstance, ResumeVmInstance, StartVmInstance, StopVmInstance, UpdateVmInstance } from './apis.ts';
import { vmQueueOf } from './create-handler.ts';
import { expungeVm, releaseVmHost } from './expunge.ts';
import type { StartVmCtx } from './flows/start-vm-ctx.ts';
import { VmInstanceInventory } from './schema.ts';
import { callHostAgent } from './vm-agent.ts';
import { checkState } from './vm-states.ts';
import { changeVmState, loadVm, vmInventory } from './vm-store.ts';

export interface LifecycleDeps {
  startChain: FlowChain<StartVmCtx>;
  deletionPolicy: ConfigHandle<string>;
}

/** Start, stop, reboot, pause, resume, destroy, recover, expunge, update: each in the VM's queue. */
export function lifecycleHandlers(ctx: NodeContext, deps: LifecycleDeps) {
  const { db, queues, flowEngine, extensions, bus, agents, inventories } = ctx;
  const stateDeps = { db, bus, extensions };
  const agentDeps = { db, extensions, agents };
  const inVmQueue = <T>(uuid: string, task: () => Promise<T>) => queues.submit(vmQueueOf(uuid), task);
  const reply = (uuid: string) => vmInventory(db, uuid, inventories);

  const releaseHost = (vm: VmInstanceView) => releaseVmHost(bus, vm);

  /** A transient state while the agent works, then `to`; back to the state before when the agent fails. */
  async function onHost(vm: VmInstanceView, transient: VmState, path: string, cmd: Record<string, unknown>, to: VmState): Promise<VmInstanceView> {
    const moving = await changeVmState(stateDeps, vm, transient);
    try {
      await callHostAgent(agentDeps, vm.hostUuid!, path, { vmInstanceUuid: vm.uuid, ...cmd });
    } catch (e) {
      await changeVmState(stateDeps, moving, vm.state);
      throw e;
    }
    return changeVmState(stateDeps, moving, to);
  }

  async function stop(vm: VmInstanceView, type: string): Promise<VmInstanceView> {
    const stopping = await changeVmState(stateDeps, vm, 'Stopping');
    try {
      await callHostAgent(agentDeps, vm.hostUuid!, VmAgentPaths.stop, { vmInstanceUuid: vm.uuid, type });
    } catch (e) {
      await changeVmState(stateDeps, stopping, vm.state);
      throw e;
    }
    await releaseHost(vm);
    return changeVmState(stateDeps, stopping, 'Stopped', { hostUuid: null, lastHostUuid: vm.hostUuid });
  }

  return {
    async StartVmInstance(msg: Message<ApiParams<typeof StartVmInstance>>) {
      const p = msg.body;
      return inVmQueue(p.uuid, async () => {
        const vm = await loadVm(db, p.uuid);
        // Unknown references are reported whatever the VM's state: bad input never passes silently.
        if (p.hostUuid && !(await db.selectFrom('host').select('uuid').where('uuid', '=', p.hostUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${p.hostUuid}]`);
        if (p.clusterUuid && !(await db.selectFrom('cluster').select('uuid').where('uuid', '=', p.clusterUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Cluster[uuid:${p.clusterUuid}]`);
        checkState('StartVmInstance', vm);
        if (vm.state === 'Running') return reply(vm.uuid);
        const nics = await db.selectFrom('vm_nic').select('l3NetworkUuid').where('vmInstanceUuid', '=', vm.uuid).execute();
        const root = vm.rootVolumeUuid ? await db.selectFrom('volume').select('primaryStorageUuid').where('uuid', '=', vm.rootVolumeUuid).executeTakeFirst() : undefined;
        // The state changes (Starting, then Running on its host) are steps of the journaled chain: its rollback, or recovery's, gives them back.
        await flowEngine.run(deps.startChain, {
          uuid: vm.uuid, previousState: vm.state, cpuNum: vm.cpuNum, memorySize: vm.memorySize, instanceOfferingUuid: vm.instanceOfferingUuid ?? undefined, allocatorStrategy: vm.allocatorStrategy ?? undefined,
          zoneUuid: vm.zoneUuid!, clusterUuid: p.clusterUuid, hostUuid: p.hostUuid, lastHostUuid: vm.lastHostUuid ?? undefined,
          l3NetworkUuids: nics.map((n) => n.l3NetworkUuid as string), rootPrimaryStorageUuid: (root?.primaryStorageUuid as string | null) ?? undefined,
        }, { resourceUuid: vm.uuid });
        return reply(vm.uuid);
      });
    },

    async StopVmInstance(msg: Message<ApiParams<typeof StopVmInstance>>) {
      const p = msg.body;
      return inVmQueue(p.uuid, async () => {
        const vm = await loadVm(db, p.uuid);
        checkState('StopVmInstance', vm);
        if (vm.state !== 'Stopped') await stop(vm, p.type ?? 'grace');
        return reply(vm.uuid);
      });
    },

    async RebootVmInstance(msg: Message<ApiParams<typeof RebootVmInstance>>) {
      return inVmQueue(msg.body.uuid, async () => {
        const vm = await loadVm(db, msg.body.uuid);
        checkState('RebootVmInstance', vm);
        await onHost(vm, 'Rebooting', VmAgentPaths.reboot, {}, 'Running');
        return reply(vm.uuid);
      });
    },

    async PauseVmInstance(msg: Message<ApiParams<typeof PauseVmInstance>>) {
      return inVmQueue(msg.body.uuid, async () => {
        const vm = await loadVm(db, msg.body.uuid);
        checkState('PauseVmInstance', vm);
        await onHost(vm, 'Pausing', VmAgentPaths.pause, {}, 'Paused');
        return reply(vm.uuid);
      });
    },

    async ResumeVmInstance(msg: Message<ApiParams<typeof ResumeVmInstance>>) {
      return inVmQueue(msg.body.uuid, async () => {
        const vm = await loadVm(db, msg.body.uuid);
        checkState('ResumeVmInstance', vm);
        await onHost(vm, 'Resuming', VmAgentPaths.resume, {}, 'Running');
        return reply(vm.uuid);
      });
    },

    /** Off its host (capacity released), then Destroyed, or expunged at once under the Direct policy. Destroying what is gone or Destroyed succeeds. */
    async DestroyVmInstance(msg: Message<ApiParams<typeof DestroyVmInstance>>) {
      const p = msg.body;
      return inVmQueue(p.uuid, async () => {
        if (!(await findRow(db, VmInstanceInventory, p.uuid))) return {};
        let vm = await loadVm(db, p.uuid);
        if (vm.state === 'Destroyed') return {};
        checkState('DestroyVmInstance', vm);
        await extensions.callVeto(VmLifecyclePoint, 'preDestroy', vm);
        const previous = vm.state;
        vm = await changeVmState(stateDeps, vm, 'Destroying');
        if (vm.hostUuid) {
          try {
            await callHostAgent(agentDeps, vm.hostUuid, VmAgentPaths.destroy, { vmInstanceUuid: vm.uuid });
          } catch (e) {
            await changeVmState(stateDeps, vm, previous);
            throw e;
          }
          await releaseHost(vm);
        }
        const destroyed = await changeVmState(stateDeps, vm, 'Destroyed', { hostUuid: null, lastHostUuid: vm.hostUuid ?? vm.lastHostUuid });
        await extensions.callSafe(VmLifecyclePoint, 'afterDestroy', destroyed);
        const policy = deps.deletionPolicy.get();
        if (policy !== 'Delay') await expungeVm(ctx, destroyed, { keepRootVolume: policy === 'Never' });
        return {};
      });
    },

    async RecoverVmInstance(msg: Message<ApiParams<typeof RecoverVmInstance>>) {
      return inVmQueue(msg.body.uuid, async () => {
        const vm = await loadVm(db, msg.body.uuid);
        checkState('RecoverVmInstance', vm);
        await changeVmState(stateDeps, vm, 'Stopped');
        return reply(vm.uuid);
      });
    },

    async ExpungeVmInstance(msg: Message<ApiParams<typeof ExpungeVmInstance>>) {
      return inVmQueue(msg.body.uuid, async () => {
        const vm = await loadVm(db, msg.body.uuid);
        checkState('ExpungeVmInstance', vm);
        await expungeVm(ctx, vm);
        return {};
      });
    },

    async UpdateVmInstance(msg: Message<ApiParams<typeof UpdateVmInstance>>) {
      const p = msg.body;
      return inVmQueue(p.uuid, async () => {
        const vm = await loadVm(db, p.uuid);
        if (p.defaultL3NetworkUuid && !(await db.selectFrom('l3_network').select('uuid').where('uuid', '=', p.defaultL3NetworkUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L3Network[uuid:${p.defaultL3NetworkUuid}]`);
        if ((p.cpuNum !== undefined || p.memorySize !== undefined) && vm.state !== 'Stopped') {
          throw new StratoError(SysErrors.OPERATION_ERROR, `the cpuNum and memorySize of VM ${vm.uuid} can only change while it is Stopped; it is ${vm.state}`);
        }
        if (p.defaultL3NetworkUuid && !(await db.selectFrom('vm_nic').select('uuid').where('vmInstanceUuid', '=', vm.uuid).where('l3NetworkUuid', '=', p.defaultL3NetworkUuid).executeTakeFirst())) {
          throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `VM ${vm.uuid} has no NIC on L3 network ${p.defaultL3NetworkUuid}`);
        }
        await changeVmState(stateDeps, vm, vm.state, { name: p.name, description: p.description, defaultL3NetworkUuid: p.defaultL3NetworkUuid, cpuNum: p.cpuNum, memorySize: p.memorySize });
        return reply(vm.uuid);
      });
    },

  };
}
