import { HostAllocatorMessages } from '../../contracts/host-allocator.ts';
import { L3NetworkMessages } from '../../contracts/network.ts';
import { SecurityGroupMessages } from '../../contracts/security-group.ts';
import { VmLifecyclePoint, type VmInstanceView } from '../../contracts/vm.ts';
import { VmNicLifecyclePoint } from '../../contracts/vm-nic.ts';
import { VOLUME_SERVICE, VolumeMessages } from '../../contracts/volume.ts';
import type { Bus } from '../../core/bus/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { changeVmState } from './vm-store.ts';

/** Gives back the CPU and memory the VM holds on its host (it holds them exactly while `hostUuid` is set). */
export async function releaseVmHost(bus: Bus, vm: VmInstanceView): Promise<void> {
  if (!vm.hostUuid) return;
  await bus.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: vm.hostUuid, cpuNum: vm.cpuNum, memorySize: vm.memorySize });
}

/** Stopped without asking the agent (its host is gone, or reported the VM off); the capacity is given back. */
export async function markVmStopped(ctx: NodeContext, vm: VmInstanceView): Promise<VmInstanceView> {
  await releaseVmHost(ctx.bus, vm);
  return changeVmState(ctx, vm, 'Stopped', { hostUuid: null, lastHostUuid: vm.hostUuid ?? vm.lastHostUuid });
}

/**
 * Removes a destroyed VM for good (ZStack's VmExpungeFlow): NICs leave their security groups and give
 * their IPs back (after the root volume, so a refused expunge leaves the VM whole), the root volume is
 * expunged by the volume service (bits and space), data volumes are
 * detached and kept (the root volume too with `keepRootVolume`: vm.deletionPolicy Never), then the row and its tags go. The caller holds the VM's queue.
 */
export async function expungeVm(ctx: NodeContext, vm: VmInstanceView, opts: { force?: boolean; keepRootVolume?: boolean } = {}): Promise<void> {
  const { db, bus, tags, extensions } = ctx;
  const expunging = await changeVmState(ctx, vm, 'Expunging');
  if (vm.rootVolumeUuid && !opts.keepRootVolume) {
    const r = await bus.send(VOLUME_SERVICE, VolumeMessages.expunge, { uuid: vm.rootVolumeUuid, force: opts.force ?? false }, { resourceUuid: vm.rootVolumeUuid });
    if (!r.success) {
      await changeVmState(ctx, expunging, 'Destroyed');
      throw new StratoError(r.error);
    }
  }
  const nics = await db.selectFrom('vm_nic').select(['uuid', 'l3NetworkUuid', 'usedIpUuid', 'ip']).where('vmInstanceUuid', '=', vm.uuid).execute();
  // EIPs (and other network services) let go of the NICs before they go.
  if (nics.length) await extensions.callSafe(VmNicLifecyclePoint, 'beforeNicsDeleted', nics.map((n) => ({ uuid: n.uuid as string, vmInstanceUuid: vm.uuid, l3NetworkUuid: n.l3NetworkUuid as string, ip: (n.ip as string | null) ?? null })));
  if (nics.length) await bus.call('securityGroup', SecurityGroupMessages.removeVmNics, { vmNicUuids: nics.map((n) => n.uuid as string) });
  for (const nic of nics) {
    if (nic.usedIpUuid) await bus.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: nic.usedIpUuid }, { resourceUuid: nic.l3NetworkUuid as string });
    await db.deleteFrom('vm_nic').where('uuid', '=', nic.uuid).execute();
  }
  await db.updateTable('volume').set({ vmInstanceUuid: null, deviceId: null, lastOpDate: Date.now() }).where('vmInstanceUuid', '=', vm.uuid).execute();
  await db.deleteFrom('vm_instance').where('uuid', '=', vm.uuid).execute();
  await tags.deleteForResources([vm.uuid]);
  await extensions.callSafe(VmLifecyclePoint, 'afterExpunge', vm);
}
