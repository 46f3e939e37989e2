import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, linkHosts, PretendAgentHost, qemuPids, waitForSerial } from './harness.ts';
import { tinyGuest } from './tiny-guest.ts';

const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img');
const MiB = 1024 * 1024;

/**
 * Live migration between two pretend hosts joined by an underlay link, on storage both see at the same
 * path (the hosts share this machine's filesystem): the guest, still booting when it leaves, finishes
 * booting on the destination.
 */
describe.skipIf(!canRun)('strato agent: live migration between two hosts', () => {
  const src = new PretendAgentHost();
  const dst = new PretendAgentHost();
  const vmUuid = newUuid();
  const rootUuid = newUuid();
  let ips: { aIp: string; bIp: string };
  let root: string;
  const nic = { uuid: newUuid(), mac: '52:54:00:12:34:99', deviceId: 0, internalName: `vnic${vmUuid.slice(0, 8)}.0` };

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    await src.setUp();
    await dst.setUp();
    ips = linkHosts(src, dst);
    await src.startAgent({ listen: '0.0.0.0' });
    await dst.startAgent({ listen: '0.0.0.0' });
    root = join(src.dataDir, 'shared', `${rootUuid}.qcow2`);
    execFileSync('mkdir', ['-p', join(src.dataDir, 'shared')]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', root]);
    await src.client.call(src.endpoint, '/vm/start', { vmInstanceUuid: vmUuid, vmName: 'mig', cpuNum: 1, memorySize: 256 * MiB, rootVolume: { uuid: rootUuid, installPath: root, format: 'qcow2' }, nics: [nic] });
  }, 240_000);

  afterAll(async () => {
    await src.tearDown();
    await dst.tearDown();
  }, 60_000);

  it('refuses without the destination agent token, and the VM runs on at the source', async () => {
    await expect(src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostManagementIp: ips.bIp })).rejects.toThrow(/destAgentToken/);
    await expect(src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostManagementIp: ips.bIp, destAgentToken: 'wrong' })).rejects.toThrow(/HTTP 401/);
    expect((await src.client.call<{ success: boolean; states: Record<string, string> }>(src.endpoint, '/vm/vmsync', {})).states).toEqual({ [vmUuid]: 'Running' });
  });

  it('moves the running VM to the destination: the source QEMU and tap go, the guest boots on there', async () => {
    expect(qemuPids(src.dataDir)).toHaveLength(1);
    await src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostUuid: newUuid(), destHostManagementIp: ips.bIp, destAgentToken: dst.token });
    expect((await src.client.call<{ success: boolean; states: Record<string, string> }>(src.endpoint, '/vm/vmsync', {})).states).toEqual({});
    expect(qemuPids(src.dataDir)).toEqual([]);
    expect(src.linkMaster(nic.internalName)).toBeUndefined();
    expect(dst.linkMaster(nic.internalName)).toBeNull(); // the tap exists on the destination (no bridge asked)
    expect((await dst.client.call<{ success: boolean; states: Record<string, string> }>(dst.endpoint, '/vm/vmsync', {})).states).toEqual({ [vmUuid]: 'Running' });
    await waitForSerial(join(dst.dataDir, 'logs', `${vmUuid}.serial.log`), 'TINYGUEST-BOOTED', 90_000);
    await dst.client.call(dst.endpoint, '/vm/destroy', { vmInstanceUuid: vmUuid });
  }, 120_000);
});
