import type { Accel } from '../host/host-facts.ts';
import { diskIdOf, netdevIdOf, nicIdOf, nodeNameOf, tapOf, type StartVmCmd, type VolumeTO } from './vm-spec.ts';

/** Where a VM's runtime files live: `<data-dir>/vms/<uuid>/`. Absolute (QEMU may chdir). */
export interface VmFiles {
  dir: string;
  qmp: string;
  serialSocket: string;
  serialLog: string;
  qemuLog: string;
}

/** The `-blockdev` JSON of a volume: a qcow2 (or raw) file; its backing chain opens from the image header. */
export function blockdevOf(v: VolumeTO): Record<string, unknown> {
  return { driver: v.format === 'raw' ? 'raw' : 'qcow2', 'node-name': nodeNameOf(v.uuid), file: { driver: 'file', filename: v.installPath, aio: 'threads' }, cache: { direct: false } };
}

/**
 * The QEMU command line of a VM. `-machine pc` (i440fx) so ACPI PCI hot-plug works on pci.0 without
 * root ports; `vhost=off` (no vhost-net needed); VNC on 127.0.0.1 only, first free display from :0
 * (the node's console proxy connects there); serial console to a socket with a log file.
 */
export function qemuArgs(cmd: StartVmCmd, files: VmFiles, accel: Accel): string[] {
  const args = [
    // guest= and doubled commas: a name with `,` or `=` stays one value (QEMU's option syntax), not more options.
    '-name', `guest=${(cmd.vmName ?? cmd.vmInstanceUuid).replace(/,/g, ',,')},debug-threads=off`,
    '-machine', 'pc', '-accel', accel, ...(accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m', `${Math.floor(cmd.memorySize / (1024 * 1024))}M`, '-smp', String(cmd.cpuNum),
    '-nodefaults', '-no-user-config', '-display', 'none', '-device', 'VGA', '-vnc', '127.0.0.1:0,to=4000',
    '-qmp', `unix:${files.qmp},server=on,wait=off`,
    '-chardev', `socket,id=serial0,path=${files.serialSocket},server=on,wait=off,logfile=${files.serialLog},logappend=on`, '-serial', 'chardev:serial0',
    '-boot', 'strict=on',
  ];
  const volumes = [cmd.rootVolume!, ...[...(cmd.dataVolumes ?? [])].sort((a, b) => Number(a.deviceId ?? 0) - Number(b.deviceId ?? 0))];
  volumes.forEach((v, i) => {
    args.push('-blockdev', JSON.stringify(blockdevOf(v)), '-device', `virtio-blk-pci,drive=${nodeNameOf(v.uuid)},id=${diskIdOf(v.uuid)}${i === 0 ? ',bootindex=1' : ''}`);
  });
  for (const nic of cmd.nics ?? []) {
    args.push('-netdev', `tap,id=${netdevIdOf(nic.uuid)},ifname=${tapOf(nic)},script=no,downscript=no,vhost=off`, '-device', `virtio-net-pci,netdev=${netdevIdOf(nic.uuid)},mac=${nic.mac},id=${nicIdOf(nic.uuid)}`);
  }
  return args;
}
