import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { exec } from '../exec.ts';
import { topNodeOf, type VolumeTO } from './vm-spec.ts';
import type { VmHandle, VmSupervisor } from './vm-supervisor.ts';

/**
 * An external snapshot of a disk a running VM writes to, keeping the volume's path: the current file
 * (open in QEMU, which keeps its descriptor) is renamed to the snapshot's path, a new overlay backed by
 * it is created at the volume's path without opening the locked backing (`-u`), opened as a block node
 * and put on top with QMP `blockdev-snapshot`. From then on QEMU writes to the overlay.
 */
export async function takeLiveSnapshot(sup: VmSupervisor, vm: VmHandle, volume: VolumeTO, snapshotPath: string, format: string, virtualSize: number): Promise<void> {
  const overlay = `s${randomBytes(10).toString('hex')}`;
  renameSync(volume.installPath, snapshotPath);
  try {
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', snapshotPath, '-F', format, volume.installPath, String(virtualSize)]);
    await vm.qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': overlay, file: { driver: 'file', filename: volume.installPath, aio: 'threads' }, backing: null });
    try {
      await vm.qmp.execute('blockdev-snapshot', { node: topNodeOf(volume), overlay });
    } catch (e) {
      await vm.qmp.execute('blockdev-del', { 'node-name': overlay }).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    rmSync(volume.installPath, { force: true });
    renameSync(snapshotPath, volume.installPath);
    throw e;
  }
  volume.overlayNodes = [...(volume.overlayNodes ?? []), overlay];
  sup.saveSpec(vm);
}
