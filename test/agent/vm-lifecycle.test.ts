import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, PretendAgentHost, qemuPids, waitFor, waitForSerial } from './harness.ts';
import { tinyGuest } from './tiny-guest.ts';
import { typeOnSerial } from '../support/guest-serial.ts';

const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'qemu-io');

const MiB = 1024 * 1024;
/** The kernel 802.1Q driver only: the VLAN case below checks this kernel's refusal (the OVS driver has its own tests in network-vlan-ovs). */
const KERNEL_VLANS = { env: { STRATO_AGENT_VLAN_DRIVER: 'kernel' } };
/** Alive and not a zombie (an orphaned QEMU is reaped by PID 1, sometimes a moment later). */
const alive = (pid: number) => existsSync(`/proc/${pid}/stat`) && !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const qemuIo = (file: string, ...cmds: string[]) => execFileSync('qemu-io', ['-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), file], { encoding: 'utf8' });
const backingOf = (file: string) => (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { 'full-backing-filename'?: string })['full-backing-filename'];

/**
 * One real VM, booted once from a linked clone of the built-in image, through a real `strato agent`
 * in a network namespace, driven exactly as the node drives it (AgentClient, callbacks over HTTP).
 * The cases run in order: each starts from where the previous one left the VM.
 */
describe.skipIf(!canRun)('strato agent: a VM with QEMU over QMP on local storage', () => {
  const host = new PretendAgentHost();
  const vmUuid = newUuid();
  const hostUuid = newUuid();
  const rootUuid = newUuid();
  const dataUuid = newUuid();
  const imageUuid = newUuid();
  let ps: string;
  let rootPath: string;
  let dataPath: string;
  let cachePath: string;
  let serial: string;
  let liveDataSnap: string;
  const nic = () => ({ uuid: newUuid().slice(0, 32), mac: '52:54:00:12:34:56', deviceId: 0, internalName: `vnic${vmUuid.slice(0, 8)}.0`, physicalInterface: 'eth1' });
  const theNic = nic();
  const startCmd = () => ({ vmInstanceUuid: vmUuid, vmName: 'vm1', cpuNum: 1, memorySize: 256 * MiB, rootVolume: { uuid: rootUuid, installPath: rootPath, deviceId: 0, format: 'qcow2', type: 'Root' }, dataVolumes: [], nics: [theNic] });
  const call = <R = Record<string, unknown>>(path: string, body: unknown) => host.client.call<R & { success: boolean }>(host.endpoint, path, body);

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    await host.setUp();
    host.addInterface('eth1');
    host.inNs(['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'eth1']);
    await host.startAgent(KERNEL_VLANS);
    await host.client.callSync(host.endpoint, '/host/connect', { hostUuid, sendCommandUrl: host.sendCommandUrl });
    ps = join(host.dataDir, 'ps');
    rootPath = `${ps}/rootVolumes/acct-admin/vol-${rootUuid}/${rootUuid}.qcow2`;
    dataPath = `${ps}/dataVolumes/acct-admin/vol-${dataUuid}/${dataUuid}.qcow2`;
    cachePath = `${ps}/imagecache/template/${imageUuid}/${imageUuid}.qcow2`;
    liveDataSnap = `${ps}/dataVolumes/acct-admin/vol-${dataUuid}/snapshots/live.qcow2`;
    serial = join(host.dataDir, 'logs', `${vmUuid}.serial.log`);
    const init = await call<{ totalCapacity: number; availableCapacity: number }>('/localstorage/init', { path: ps, hostUuid });
    expect(init.totalCapacity).toBeGreaterThan(init.availableCapacity);
    await call('/localstorage/imagestore/download', { backupStorageInstallPath: `file://${image}`, primaryStorageInstallPath: cachePath });
    await call('/localstorage/volume/createvolumefromcache', { installUrl: rootPath, templatePathInCache: cachePath, size: 0, volumeUuid: rootUuid });
    await call('/localstorage/volume/createempty', { installUrl: dataPath, size: 64 * MiB, volumeUuid: dataUuid });
    const started = await call<{ vncPort: number }>('/vm/start', startCmd());
    expect(started.vncPort).toBeGreaterThanOrEqual(5900);
    await waitForSerial(serial, 'TINYGUEST-BOOTED', 90_000);
  }, 240_000);

  afterAll(() => host.tearDown(), 60_000);

  it('boots the VM from a qcow2 linked clone of the cached built-in image, its tap in the NoVlan bridge', async () => {
    expect(backingOf(rootPath)).toBe(cachePath);
    await waitForSerial(serial, 'TINYGUEST-DISK vda', 30_000);
    expect(host.linkMaster(theNic.internalName)).toBe('br_eth1');
    expect(host.linkMaster('eth1')).toBe('br_eth1');
    // ZStack's NoVlan bridge takes over the interface's address (a management address stays reachable)
    expect(host.inNs(['ip', '-4', '-o', 'addr', 'show', 'dev', 'br_eth1'])).toContain('192.0.2.10/24');
    expect(host.inNs(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1'])).toBe('');
    const sync = await call<{ states: Record<string, string>; vncPorts: Record<string, number> }>('/vm/vmsync', {});
    expect(sync.states).toEqual({ [vmUuid]: 'Running' });
    expect(sync.vncPorts[vmUuid]).toBeGreaterThanOrEqual(5900);
    // the console listens on the host's loopback only, and speaks RFB
    const banner = host.inNs(['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${sync.vncPorts[vmUuid]}; head -c 12 <&3`]);
    expect(banner).toBe('RFB 003.008\n');
    expect(host.inNs(['ss', '-Htln', `sport = :${sync.vncPorts[vmUuid]}`])).toMatch(/127\.0\.0\.1:/);
  });

  it('refuses a bad start command as data and leaves nothing behind', async () => {
    const other = newUuid();
    await expect(call('/vm/start', { vmInstanceUuid: other, cpuNum: 1, memorySize: 256 * MiB, rootVolume: { uuid: other, installPath: `${ps}/nope.qcow2` } })).rejects.toMatchObject({ errorCode: { code: 'AGENT.1002' } });
    await expect(call('/vm/start', { vmInstanceUuid: other, cpuNum: 0, memorySize: 1, rootVolume: null })).rejects.toThrow(/cpuNum.*memorySize.*rootVolume/);
    // a VLAN network on a kernel without 802.1Q: said plainly, and the tap made for it is gone again
    const vlanNic = { ...nic(), internalName: 'vnicvlantest.0', physicalInterface: 'eth1.100' };
    const vlanSupported = !/Unknown device type/.test(execFileSync('sh', ['-c', `ip netns exec ${host.ns} ip link add link eth1 name probe.7 type vlan id 7 2>&1 && ip netns exec ${host.ns} ip link del probe.7 || true`], { encoding: 'utf8' }));
    if (!vlanSupported) {
      await expect(call('/vm/start', { ...startCmd(), vmInstanceUuid: other, nics: [vlanNic] })).rejects.toThrow(/VLAN networks are unsupported on this host/);
      expect(host.linkMaster(vlanNic.internalName)).toBeUndefined();
    }
    expect(existsSync(join(host.dataDir, 'vms', other))).toBe(false);
  });

  it('pauses and resumes the VM (QMP stop/cont, confirmed by query-status), reporting nothing the node asked for', async () => {
    host.reports.length = 0;
    await call('/vm/pause', { vmInstanceUuid: vmUuid });
    expect((await call<{ states: Record<string, string> }>('/vm/checkstate', { vmInstanceUuids: [vmUuid] })).states[vmUuid]).toBe('Paused');
    await call('/vm/resume', { vmInstanceUuid: vmUuid });
    expect((await call<{ states: Record<string, string> }>('/vm/checkstate', { vmInstanceUuids: [vmUuid] })).states[vmUuid]).toBe('Running');
    await new Promise((r) => setTimeout(r, 300));
    expect(host.reports).toEqual([]);
  });

  it('hot-attaches a data volume the guest sees, and detaches it', async () => {
    await call('/vm/attachdatavolume', { vmInstanceUuid: vmUuid, volume: { uuid: dataUuid, installPath: dataPath, deviceId: 1, format: 'qcow2' } });
    await waitForSerial(serial, /TINYGUEST-DISK vdb sectors=131072/, 60_000);
    await expect(call('/localstorage/delete', { path: dataPath })).rejects.toThrow(/in use by running VM/);
    // a live snapshot stacks a node on the disk: detaching must take the whole chain out
    await call('/localstorage/snapshot/take', { volumeUuid: dataUuid, volumeInstallPath: dataPath, installPath: liveDataSnap, parentInstallPath: null });
    expect(backingOf(dataPath)).toBe(liveDataSnap);
    await call('/vm/detachdatavolume', { vmInstanceUuid: vmUuid, volume: { uuid: dataUuid, installPath: dataPath } });
    expect(existsSync(dataPath)).toBe(true);
  }, 90_000);

  it('hot-plugs a second NIC (its tap in the bridge) and unplugs it (the tap goes)', async () => {
    const second = { uuid: newUuid(), mac: '52:54:00:12:34:57', deviceId: 1, internalName: `vnic${vmUuid.slice(0, 8)}.1`, physicalInterface: 'eth1' };
    await call('/vm/attachnic', { vmInstanceUuid: vmUuid, nic: second });
    expect(host.linkMaster(second.internalName)).toBe('br_eth1');
    await call('/vm/detachnic', { vmInstanceUuid: vmUuid, nic: second });
    expect(host.linkMaster(second.internalName)).toBeUndefined();
    expect(host.linkMaster(theNic.internalName)).toBe('br_eth1');
  }, 60_000);

  it('takes a live snapshot of the running root disk and grows it through QMP; the guest runs on', async () => {
    const snap = `${ps}/rootVolumes/acct-admin/vol-${rootUuid}/snapshots/live.qcow2`;
    await call('/localstorage/snapshot/take', { volumeUuid: rootUuid, volumeInstallPath: rootPath, installPath: snap, parentInstallPath: null });
    expect(backingOf(rootPath)).toBe(snap);
    expect(backingOf(snap)).toBe(cachePath);
    await call('/localstorage/volume/resize', { installPath: rootPath, size: 64 * MiB });
    expect((JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', rootPath], { encoding: 'utf8' })) as { 'virtual-size': number })['virtual-size']).toBe(64 * MiB);
    await expect(call('/localstorage/snapshot/revert', { snapshotInstallPath: snap, volumeInstallPath: rootPath })).rejects.toThrow(/in use by running VM/);
    await call('/vm/pause', { vmInstanceUuid: vmUuid });
    await call('/vm/resume', { vmInstanceUuid: vmUuid });
  });

  it('exposes Prometheus metrics: commands by path, VMs by state', async () => {
    const text = await (await fetch(`${host.endpoint.url}/metrics`)).text();
    expect(text).toMatch(/strato_agent_vms\{state="Running"\} 1/);
    expect(text).toMatch(/strato_agent_commands_total\{path="\/vm\/start",outcome="success"\} 1/);
  });

  it('takes a snapshot, and revert brings back the data written before it', async () => {
    qemuIo(dataPath, 'write -P 0xaa 0 1M');
    const snap = `${ps}/dataVolumes/acct-admin/vol-${dataUuid}/snapshots/s1.qcow2`;
    await call('/localstorage/snapshot/take', { volumeUuid: dataUuid, volumeInstallPath: dataPath, installPath: snap, parentInstallPath: null });
    expect(backingOf(dataPath)).toBe(snap);
    qemuIo(dataPath, 'write -P 0xbb 0 1M');
    expect(qemuIo(dataPath, 'read -P 0xbb 0 1M')).not.toMatch(/mismatch/);
    await call('/localstorage/snapshot/revert', { snapshotInstallPath: snap, volumeInstallPath: dataPath, volumeUuid: dataUuid });
    expect(qemuIo(dataPath, 'read -P 0xaa 0 1M')).not.toMatch(/mismatch/);
    // delete with merge: the volume takes the snapshot's data and stands on nothing; the file goes
    qemuIo(dataPath, 'write -P 0xcc 1M 1M');
    await call('/localstorage/snapshot/merge', { srcPath: snap, destPath: dataPath, volumeUuid: dataUuid });
    await call('/localstorage/delete', { path: snap });
    expect(existsSync(snap)).toBe(false);
    expect(backingOf(dataPath)).toBe(liveDataSnap);
    expect(qemuIo(dataPath, 'read -P 0xaa 0 1M', 'read -P 0xcc 1M 1M')).not.toMatch(/mismatch/);
  });

  it('keeps the VM running across an agent restart, and rediscovers it', async () => {
    const [pid] = qemuPids(host.dataDir);
    host.reports.length = 0;
    await host.stopAgent('SIGKILL');
    await host.startAgent(KERNEL_VLANS);
    const sync = await call<{ states: Record<string, string> }>('/vm/vmsync', {});
    expect(sync.states).toEqual({ [vmUuid]: 'Running' });
    expect(qemuPids(host.dataDir)).toEqual([pid]);
    await waitFor('the reconnect request', () => host.reports.find((r) => r.commandPath === '/kvm/reconnectme'), 10_000);
    await call('/vm/pause', { vmInstanceUuid: vmUuid });
    await call('/vm/resume', { vmInstanceUuid: vmUuid });
  }, 90_000);

  it('reboots the VM: the guest boots again', async () => {
    const before = readFileSync(serial, 'utf8').split('TINYGUEST-BOOTED').length;
    await call('/vm/reboot', { vmInstanceUuid: vmUuid });
    await waitFor('a second boot', () => readFileSync(serial, 'utf8').split('TINYGUEST-BOOTED').length > before, 90_000);
    await waitForSerial(serial, /TINYGUEST-BOOTED[\s\S]*TINYGUEST-BOOTED[\s\S]*TINYGUEST-DISK vda/, 30_000);
  }, 120_000);

  it('stops the VM through ACPI: the guest powers itself off, the tap goes, the node hears nothing unasked', async () => {
    const [pid] = qemuPids(host.dataDir);
    host.reports.length = 0;
    await call('/vm/stop', { vmInstanceUuid: vmUuid, timeout: 60 });
    expect(readFileSync(serial, 'utf8')).toMatch(/TINYGUEST-POWERDOWN/);
    expect(alive(pid)).toBe(false);
    expect(host.linkMaster(theNic.internalName)).toBeUndefined();
    expect((await call<{ states: Record<string, string> }>('/vm/checkstate', { vmInstanceUuids: [vmUuid] })).states[vmUuid]).toBe('Stopped');
    await new Promise((r) => setTimeout(r, 500));
    expect(host.reports.filter((r) => r.commandPath === '/kvm/reportvmstate')).toEqual([]);
  }, 90_000);

  it('reports a VM shut down from inside the guest as Stopped', async () => {
    await call('/vm/start', startCmd());
    await waitForSerial(serial, 'TINYGUEST-BOOTED', 90_000);
    host.reports.length = 0;
    await typeOnSerial(join(host.dataDir, 'vms', vmUuid, 'serial.sock'), 'poweroff -f');
    const report = await waitFor('the Stopped report', () => host.reports.find((r) => r.commandPath === '/kvm/reportvmstate'), 30_000);
    expect(report.body).toMatchObject({ hostUuid, vmUuid, vmState: 'Stopped' });
    expect((await call<{ states: Record<string, string> }>('/vm/vmsync', {})).states).toEqual({});
  }, 120_000);

  it('reports a VM whose QEMU is killed as Stopped, and destroy removes what is left', async () => {
    await call('/vm/start', startCmd());
    const [pid] = qemuPids(host.dataDir);
    host.reports.length = 0;
    process.kill(pid, 'SIGKILL');
    const report = await waitFor('the Stopped report', () => host.reports.find((r) => r.commandPath === '/kvm/reportvmstate'), 20_000);
    expect(report.body).toMatchObject({ hostUuid, vmUuid, vmState: 'Stopped' });
    // Signed with the host's token as the host it was connected as: what the node checks before believing it.
    expect(report.signedBy).toBe(hostUuid);
    expect((await call<{ states: Record<string, string> }>('/vm/vmsync', {})).states).toEqual({});
    expect(host.linkMaster(theNic.internalName)).toBeUndefined();
    await call('/vm/destroy', { vmInstanceUuid: vmUuid });
    await call('/localstorage/delete', { path: rootPath });
    expect(existsSync(rootPath)).toBe(false);
    expect(existsSync(join(host.dataDir, 'vms', vmUuid))).toBe(false);
  }, 90_000);
});
