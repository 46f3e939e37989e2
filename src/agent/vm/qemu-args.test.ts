import { describe, expect, it } from 'vitest';
import { noVlanBridgeName } from '../network/bridges.ts';
import { qemuArgs } from './qemu-args.ts';
import { validateStart, type StartVmCmd } from './vm-spec.ts';

const files = { dir: '/d/vms/u', qmp: '/d/vms/u/qmp.sock', serialSocket: '/d/vms/u/serial.sock', serialLog: '/d/logs/u.serial.log', qemuLog: '/d/logs/u.qemu.log' };
const cmd: StartVmCmd = {
  vmInstanceUuid: 'a'.repeat(32), vmName: 'vm1', cpuNum: 2, memorySize: 512 * 1024 * 1024,
  rootVolume: { uuid: 'r'.repeat(32), installPath: '/ps/root.qcow2', format: 'qcow2' },
  dataVolumes: [{ uuid: 'd2'.repeat(16), installPath: '/ps/d2.qcow2', deviceId: 2 }, { uuid: 'd1'.repeat(16), installPath: '/ps/d1.raw', deviceId: 1, format: 'raw' }],
  nics: [{ uuid: 'n'.repeat(32), mac: '52:54:00:00:00:01', internalName: 'vnicaaaaaaaa.0' }],
};

const valueOf = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

describe('qemuArgs', () => {
  it('sizes the VM from the offering and accelerates with TCG or KVM (-cpu host only with KVM)', () => {
    const tcg = qemuArgs(cmd, files, 'tcg');
    expect(valueOf(tcg, '-m')).toEqual(['512M']);
    expect(valueOf(tcg, '-smp')).toEqual(['2']);
    expect(valueOf(tcg, '-accel')).toEqual(['tcg']);
    expect(tcg).not.toContain('-cpu');
    const kvm = qemuArgs(cmd, files, 'kvm');
    expect(valueOf(kvm, '-accel')).toEqual(['kvm']);
    expect(valueOf(kvm, '-cpu')).toEqual(['host']);
  });

  it('boots from the root volume, then data volumes by device id, each a named block node with its format', () => {
    const args = qemuArgs(cmd, files, 'tcg');
    const nodes = valueOf(args, '-blockdev').map((j) => JSON.parse(j) as { driver: string; file: { filename: string } });
    expect(nodes.map((n) => [n.driver, n.file.filename])).toEqual([['qcow2', '/ps/root.qcow2'], ['raw', '/ps/d1.raw'], ['qcow2', '/ps/d2.qcow2']]);
    const disks = valueOf(args, '-device').filter((d) => d.startsWith('virtio-blk-pci'));
    expect(disks[0]).toMatch(/bootindex=1/);
    expect(disks.slice(1).some((d) => d.includes('bootindex'))).toBe(false);
  });

  it('puts each NIC on its tap without vhost, the console on loopback VNC and a logged serial socket', () => {
    const args = qemuArgs(cmd, files, 'tcg');
    expect(valueOf(args, '-netdev')).toEqual([expect.stringMatching(/^tap,id=.*,ifname=vnicaaaaaaaa\.0,script=no,downscript=no,vhost=off$/)]);
    expect(valueOf(args, '-device')).toContainEqual(expect.stringMatching(/^virtio-net-pci,.*mac=52:54:00:00:00:01/));
    expect(valueOf(args, '-vnc')[0]).toMatch(/^127\.0\.0\.1:/);
    expect(valueOf(args, '-chardev')[0]).toContain('logfile=/d/logs/u.serial.log');
    expect(valueOf(args, '-machine')).toEqual(['pc']);
  });

  it('keeps a VM name with commas or = one value of -name', () => {
    expect(valueOf(qemuArgs(cmd, files, 'tcg'), '-name')).toEqual(['guest=vm1,debug-threads=off']);
    expect(valueOf(qemuArgs({ ...cmd, vmName: 'a,b,process=evil' }, files, 'tcg'), '-name')).toEqual(['guest=a,,b,,process=evil,debug-threads=off']);
  });
});

describe('validateStart', () => {
  it('lists every problem of a bad start command at once', () => {
    expect(() => validateStart({ vmInstanceUuid: 'x', cpuNum: 0, memorySize: 1, rootVolume: { uuid: 'r', installPath: 'rel.qcow2' }, nics: [{ uuid: 'n', mac: 'zz' }] }))
      .toThrow(/vmInstanceUuid.*cpuNum.*memorySize.*rootVolume.*nic n/);
    expect(() => validateStart(cmd)).not.toThrow();
  });
});

describe('noVlanBridgeName', () => {
  it("is ZStack's br_<interface>, dots made underscores, within the 15-character limit", () => {
    expect(noVlanBridgeName('eth0')).toBe('br_eth0');
    expect(noVlanBridgeName('eth0.100')).toBe('br_eth0_100');
    expect(noVlanBridgeName('enp0s31f6.4094').length).toBeLessThanOrEqual(15);
  });
});
