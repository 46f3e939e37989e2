import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, linkHosts, PretendAgentHost, qemuPids, waitFor } from './harness.ts';
import { typeOnSerial } from '../support/guest-serial.ts';
import { tinyGuest } from './tiny-guest.ts';

const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img');
const MiB = 1024 * 1024;

/**
 * Live migration between two pretend hosts joined by an underlay link, on storage both see at the same
 * path (the hosts share this machine's filesystem): the guest, booted at the source, runs on at the
 * destination.
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

  it('moves the running VM to the destination: the source QEMU and tap go, the guest runs on there', async () => {
    expect(qemuPids(src.dataDir)).toHaveLength(1);
    // Booted first, as the other migration tests do: a guest moved in the middle of its TCG boot once printed
    // nothing more on either host for 90 s in CI (not reproduced here in 3 runs).
    const logs = [src, dst].map((h) => join(h.dataDir, 'logs', `${vmUuid}.serial.log`));
    await waitFor('TINYGUEST-BOOTED at the source', () => existsSync(logs[0]) && readFileSync(logs[0], 'utf8').includes('TINYGUEST-BOOTED'), 120_000);
    await src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostUuid: newUuid(), destHostManagementIp: ips.bIp, destAgentToken: dst.token });
    expect((await src.client.call<{ success: boolean; states: Record<string, string> }>(src.endpoint, '/vm/vmsync', {})).states).toEqual({});
    expect(qemuPids(src.dataDir)).toEqual([]);
    expect(src.linkMaster(nic.internalName)).toBeUndefined();
    expect(dst.linkMaster(nic.internalName)).toBeNull(); // the tap exists on the destination (no bridge asked)
    expect((await dst.client.call<{ success: boolean; states: Record<string, string> }>(dst.endpoint, '/vm/vmsync', {})).states).toEqual({ [vmUuid]: 'Running' });
    // its shell answers on the destination's serial console (a computed marker, so the echoed line never matches)
    await waitFor('the guest\'s shell answering on the destination', async () => {
      await typeOnSerial(join(dst.dataDir, 'vms', vmUuid, 'serial.sock'), 'echo MOVED-$((40+2))');
      return readFileSync(logs[1], 'utf8').includes('MOVED-42');
    }, 30_000);
  }, 200_000);

  it('moves a paused VM, which arrives paused and can move on again', async () => {
    const states = async (h: PretendAgentHost) => (await h.client.call<{ success: boolean; states: Record<string, string> }>(h.endpoint, '/vm/vmsync', {})).states;
    await dst.client.call(dst.endpoint, '/vm/pause', { vmInstanceUuid: vmUuid });
    await dst.client.call(dst.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostManagementIp: ips.aIp, destAgentToken: src.token });
    expect(await states(src)).toEqual({ [vmUuid]: 'Paused' });
    // (it was refused as "still arriving" when nothing but a RESUME ended an arrival)
    await src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostManagementIp: ips.bIp, destAgentToken: dst.token });
    expect(await states(src)).toEqual({});
    expect(await states(dst)).toEqual({ [vmUuid]: 'Paused' });
    await dst.client.call(dst.endpoint, '/vm/destroy', { vmInstanceUuid: vmUuid });
  }, 120_000);

  it('an arrival the node gives up on (its source gone): checkstate lists it arriving, and the node\'s abort removes its QEMU', async () => {
    const uuid = newUuid();
    const disk = join(dst.dataDir, 'shared', `${uuid}.qcow2`);
    execFileSync('mkdir', ['-p', join(dst.dataDir, 'shared')]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    const spec = { vmInstanceUuid: uuid, vmName: 'arriving', cpuNum: 1, memorySize: 64 * MiB, rootVolume: { uuid: newUuid(), installPath: disk, format: 'qcow2' }, nics: [] };
    // What a source sends first; its migration then never comes (as when its agent dies).
    await dst.client.callSync(dst.endpoint, '/vm/migrate/incoming', { vmInstanceUuid: uuid, spec, listenIp: ips.bIp });
    const check = () => dst.client.call<{ success: boolean; states: Record<string, string>; arriving: string[] }>(dst.endpoint, '/vm/checkstate', { vmInstanceUuids: [uuid] });
    expect(await check()).toMatchObject({ states: { [uuid]: 'Paused' }, arriving: [uuid] });
    expect(qemuPids(dst.dataDir)).toHaveLength(1);
    await dst.client.callSync(dst.endpoint, '/vm/migrate/abort', { vmInstanceUuid: uuid });
    expect(await check()).toMatchObject({ states: { [uuid]: 'Stopped' }, arriving: [] });
    expect(qemuPids(dst.dataDir)).toEqual([]);
  }, 60_000);
});
