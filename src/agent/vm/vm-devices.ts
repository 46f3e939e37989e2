import { bridgeOf, createTap, deleteTap, ensureBridge } from '../network/bridges.ts';
import { applyNicQosOf, releaseNicQosOf } from '../network/qos-commands.ts';
import { blockdevOf } from './qemu-args.ts';
import type { VmHandle, VmSupervisor } from './vm-supervisor.ts';
import { diskIdOf, netdevIdOf, nicIdOf, nodeNameOf, tapOf, type NicTO, type VolumeTO } from './vm-spec.ts';

/** Waits for the guest to let go of a device (ACPI hot-unplug); QEMU signals DEVICE_DELETED. */
async function deleteDevice(vm: VmHandle, id: string): Promise<void> {
  const deleted = vm.qmp.waitForEvent('DEVICE_DELETED', (e) => e.data?.device === id, 30_000);
  deleted.catch(() => undefined);
  try {
    await vm.qmp.execute('device_del', { id });
  } catch (e) {
    if (/not found/i.test(e instanceof Error ? e.message : String(e))) return; // already out
    throw e;
  }
  await deleted;
}

/** `/vm/attachdatavolume`: the volume's qcow2 opened as a block node, then a virtio disk on it. */
export async function attachVolume(sup: VmSupervisor, vmUuid: string | undefined, volume: VolumeTO | undefined): Promise<void> {
  const vm = sup.require(vmUuid);
  if (!volume?.uuid || !volume.installPath?.startsWith('/')) throw new Error('attach needs volume.uuid and an absolute volume.installPath');
  const spec = (vm.spec.dataVolumes ??= []);
  if (spec.some((v) => v.uuid === volume.uuid)) return;
  await vm.qmp.execute('blockdev-add', blockdevOf(volume));
  try {
    await vm.qmp.execute('device_add', { driver: 'virtio-blk-pci', drive: nodeNameOf(volume.uuid), id: diskIdOf(volume.uuid) });
  } catch (e) {
    await vm.qmp.execute('blockdev-del', { 'node-name': nodeNameOf(volume.uuid) }).catch(() => undefined);
    throw e;
  }
  spec.push(volume);
  sup.saveSpec(vm);
}

/** `/vm/detachdatavolume`: the disk unplugged (the guest agrees through ACPI), then its block node closed. */
export async function detachVolume(sup: VmSupervisor, vmUuid: string | undefined, volume: VolumeTO | undefined): Promise<void> {
  const vm = vmUuid ? sup.get(vmUuid) : undefined;
  if (!vm || !volume?.uuid) return; // not plugged in: what was asked
  const known = (vm.spec.dataVolumes ?? []).find((v) => v.uuid === volume.uuid);
  await deleteDevice(vm, diskIdOf(volume.uuid));
  // Top of the chain first: a node cannot go while an overlay stands on it.
  for (const node of [...(known?.overlayNodes ?? [])].reverse().concat(nodeNameOf(volume.uuid))) {
    await vm.qmp.execute('blockdev-del', { 'node-name': node }).catch((e: unknown) => {
      if (!/not found|Failed to find|Cannot find/i.test(e instanceof Error ? e.message : String(e))) throw e;
    });
  }
  vm.spec.dataVolumes = (vm.spec.dataVolumes ?? []).filter((v) => v.uuid !== volume.uuid);
  sup.saveSpec(vm);
}

/** `/vm/attachnic`: a tap in the NIC's bridge, a tap netdev on it, a virtio NIC with the NIC's MAC. */
export async function attachNic(sup: VmSupervisor, vmUuid: string | undefined, nic: NicTO | undefined): Promise<void> {
  const vm = sup.require(vmUuid);
  if (!nic?.uuid || !nic.mac) throw new Error('attach needs nic.uuid and nic.mac');
  const spec = (vm.spec.nics ??= []);
  if (spec.some((n) => n.uuid === nic.uuid)) return;
  const bridge = bridgeOf(nic);
  if (bridge) await ensureBridge(bridge, nic.physicalInterface);
  await createTap(tapOf(nic), bridge);
  try {
    await applyNicQosOf(tapOf(nic), nic);
    await vm.qmp.execute('netdev_add', { type: 'tap', id: netdevIdOf(nic.uuid), ifname: tapOf(nic), script: 'no', downscript: 'no', vhost: false });
    await vm.qmp.execute('device_add', { driver: 'virtio-net-pci', netdev: netdevIdOf(nic.uuid), mac: nic.mac, id: nicIdOf(nic.uuid) }).catch(async (e: unknown) => {
      await vm.qmp.execute('netdev_del', { id: netdevIdOf(nic.uuid) }).catch(() => undefined);
      throw e;
    });
  } catch (e) {
    await deleteTap(tapOf(nic));
    await releaseNicQosOf(tapOf(nic));
    throw e;
  }
  spec.push(nic);
  sup.saveSpec(vm);
}

export async function detachNic(sup: VmSupervisor, vmUuid: string | undefined, nic: NicTO | undefined): Promise<void> {
  const vm = sup.require(vmUuid);
  if (!nic?.uuid) throw new Error('detach needs nic.uuid');
  const known = (vm.spec.nics ?? []).find((n) => n.uuid === nic.uuid) ?? nic;
  await deleteDevice(vm, nicIdOf(nic.uuid));
  await vm.qmp.execute('netdev_del', { id: netdevIdOf(nic.uuid) }).catch(() => undefined);
  await deleteTap(tapOf(known));
  await releaseNicQosOf(tapOf(known));
  vm.spec.nics = (vm.spec.nics ?? []).filter((n) => n.uuid !== nic.uuid);
  sup.saveSpec(vm);
}
