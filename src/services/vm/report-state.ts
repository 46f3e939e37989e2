import { HostMessages } from '../../contracts/host.ts';
import { VmMessages, type VmInstanceView, type VmState } from '../../contracts/vm.ts';
import type { Message } from '../../core/bus/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import { vmQueueOf } from './create-handler.ts';
import { markVmStopped } from './expunge.ts';
import { VmInstanceInventory } from './schema.ts';
import { announceNicsFoundOnHost } from './network-follow.ts';
import { changeVmState, loadVm } from './vm-store.ts';

/** What agents say (libvirt's words included) in Strato's states. */
const REPORTED: Record<string, VmState> = { Running: 'Running', Stopped: 'Stopped', Shutdown: 'Stopped', Paused: 'Paused', Crashed: 'Crashed' };

/** States that only a running operation (which holds the queue) leaves: a report never overrides them. */
const SETTLED: readonly VmState[] = ['Running', 'Stopped', 'Paused', 'Unknown', 'Crashed'];

export interface ReportedVmState {
  hostUuid: string;
  vmUuid: string;
  vmState: string;
  /**
   * When the agent was asked (a host sync's snapshot of all its VMs, epoch ms). A VM changed after that
   * (an agent's own report or an operation came in between) keeps its newer state: applying the older
   * snapshot would, for one, mark a VM Running again right after its report that QEMU died.
   */
  observedAt?: number;
}

/**
 * Reconciles a VM with what a host reports (ZStack's VmStateChangedOnHostMsg): off on its host → Stopped
 * with the capacity released; running on a host while Stopped → Running there with the capacity reserved;
 * paused/resumed behind the node's back → Paused/Running. Runs in the VM's queue.
 */
export function reportStateHandler(ctx: NodeContext) {
  const { db, queues, bus, log } = ctx;
  return {
    async [VmMessages.reportState](msg: Message<ReportedVmState>) {
      const { hostUuid, vmUuid, vmState, observedAt } = msg.body;
      return queues.submit(vmQueueOf(vmUuid), async () => {
        if (!(await findRow(db, VmInstanceInventory, vmUuid))) return { ignored: 'no such VM' };
        if (observedAt !== undefined) {
          const row = await db.selectFrom('vm_instance').select('lastOpDate').where('uuid', '=', vmUuid).executeTakeFirst();
          if (Number(row?.lastOpDate ?? 0) > observedAt) return { ignored: `the VM changed after the host was asked (reported ${vmState})` };
        }
        const vm: VmInstanceView = await loadVm(db, vmUuid);
        const reported = REPORTED[vmState];
        if (!reported || !SETTLED.includes(vm.state)) return { ignored: `VM is ${vm.state}, reported ${vmState}` };
        if (vm.hostUuid && vm.hostUuid !== hostUuid) {
          log.warn({ vmUuid, hostUuid, recordedHost: vm.hostUuid, vmState }, 'a host reported a VM the node places on another host; ignored');
          return { ignored: 'VM is on another host' };
        }
        if (reported === vm.state) return { state: vm.state };
        if (reported === 'Stopped') return { state: (await markVmStopped(ctx, vm)).state };
        if (!vm.hostUuid) {
          // Running (or paused) on a host while recorded Stopped: it holds that host's capacity again.
          await bus.call('host', HostMessages.reserveCapacity, { hostUuid, cpuNum: vm.cpuNum, memorySize: vm.memorySize }, { resourceUuid: hostUuid });
          const cluster = await db.selectFrom('host').select('clusterUuid').where('uuid', '=', hostUuid).executeTakeFirst();
          const found = await changeVmState(ctx, vm, reported, { hostUuid, lastHostUuid: hostUuid, clusterUuid: cluster?.clusterUuid ?? vm.clusterUuid });
          await announceNicsFoundOnHost(ctx, found, hostUuid);
          return { state: found.state };
        }
        return { state: (await changeVmState(ctx, vm, reported)).state };
      });
    },
  };
}
