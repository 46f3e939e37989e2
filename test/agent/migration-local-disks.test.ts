import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, linkHosts, PretendAgentHost, qemuPids, waitForSerial } from './harness.ts';
import { tinyGuest } from './tiny-guest.ts';
import { typeOnSerial } from '../support/guest-serial.ts';

const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'qemu-io', 'nsenter');
const MiB = 1024 * 1024;


/** Runs a program in a pretend host's mount namespace (the agent's), where the local-storage path is that host's own. */
const on = (h: PretendAgentHost, cmd: string, ...args: string[]) => execFileSync('nsenter', ['-t', String(h.agent!.pid), '-m', '--', cmd, ...args], { encoding: 'utf8' });
const qemuIo = (h: PretendAgentHost, file: string, cmd: string) => on(h, 'qemu-io', '-U', '-r', '-f', 'qcow2', '-c', cmd, file);
const info = (h: PretendAgentHost, file: string) => JSON.parse(on(h, 'qemu-img', 'info', '-U', '--output=json', file)) as { 'virtual-size': number; 'full-backing-filename'?: string };

/**
 * Live migration of a VM on local storage: each pretend host sees its own directory at the same
 * local-storage path (a bind mount inside the agent's mount namespace), so the disks must travel.
 * The root disk (an overlay on a cached image that both hosts have) copies only its own layer; the
 * data disk (no backing) copies whole. Data written before and by the guest is there on the
 * destination, the source's files are gone, the guest never rebooted.
 */
describe.skipIf(!canRun)('strato agent: live migration copying local disks (NBD mirror)', () => {
  const src = new PretendAgentHost();
  const dst = new PretendAgentHost();
  const vmUuid = newUuid();
  const rootUuid = newUuid();
  const dataUuid = newUuid();
  const ps = `/tmp/strato-test-migls-${vmUuid.slice(0, 8)}`;
  const own = (h: PretendAgentHost) => join(h.dataDir, 'ps');
  const cache = 'imagecache/template/img/img.qcow2';
  const rootRel = `rootVolumes/vol-${rootUuid}/${rootUuid}.qcow2`;
  const dataRel = `dataVolumes/vol-${dataUuid}/${dataUuid}.qcow2`;
  let ips: { aIp: string; bIp: string };
  let baseSize = 0;
  const serial = (h: PretendAgentHost) => join(h.dataDir, 'logs', `${vmUuid}.serial.log`);
  const states = async (h: PretendAgentHost) => (await h.client.call<{ success: boolean; states: Record<string, string> }>(h.endpoint, '/vm/vmsync', {})).states;
  const migrate = (extra: Record<string, unknown> = {}) => src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostManagementIp: ips.bIp, destAgentToken: dst.token, destAgentUrl: `http://${ips.bIp}:7070`, storageMigrationPolicy: 'IncCopy', ...extra });

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    await src.setUp();
    await dst.setUp();
    ips = linkHosts(src, dst);
    mkdirSync(ps, { recursive: true });
    for (const h of [src, dst]) {
      // Both hosts have the image cache (the node puts it there first); only the source has the volumes.
      mkdirSync(join(own(h), 'imagecache/template/img'), { recursive: true });
      execFileSync('cp', [image, join(own(h), cache)]);
      await h.startAgent({ listen: '0.0.0.0' });
      // Connected to its pretend node, so a VM state report would reach it (none is expected from a migration).
      await h.client.callSync(h.endpoint, '/host/connect', { hostUuid: newUuid(), sendCommandUrl: h.sendCommandUrl });
      execFileSync('nsenter', ['-t', String(h.agent!.pid), '-m', '--', 'mount', '--bind', own(h), ps]);
    }
    baseSize = info(src, join(ps, cache))['virtual-size'];
    mkdirSync(join(own(src), `rootVolumes/vol-${rootUuid}`), { recursive: true });
    mkdirSync(join(own(src), `dataVolumes/vol-${dataUuid}`), { recursive: true });
    // The root overlay is larger than the image: its tail (beyond the guest's filesystem) holds a pattern.
    on(src, 'qemu-img', 'create', '-q', '-f', 'qcow2', '-b', join(ps, cache), '-F', 'qcow2', join(ps, rootRel), String(baseSize + 64 * MiB));
    on(src, 'qemu-io', '-f', 'qcow2', '-c', `write -P 0xab ${baseSize} 1M`, join(ps, rootRel));
    on(src, 'qemu-img', 'create', '-q', '-f', 'qcow2', join(ps, dataRel), String(256 * MiB));
    on(src, 'qemu-io', '-f', 'qcow2', '-c', `write -P 0xcd ${200 * MiB} 1M`, join(ps, dataRel));
    await src.client.call(src.endpoint, '/vm/start', {
      vmInstanceUuid: vmUuid, vmName: 'migls', cpuNum: 1, memorySize: 256 * MiB,
      rootVolume: { uuid: rootUuid, installPath: join(ps, rootRel), format: 'qcow2' },
      dataVolumes: [{ uuid: dataUuid, installPath: join(ps, dataRel), format: 'qcow2', deviceId: 1 }],
    });
    await waitForSerial(serial(src), 'TINYGUEST-BOOTED', 120_000);
    // The guest writes too, through its own block layer: a marker on the data disk.
    await typeOnSerial(join(src.dataDir, 'vms', vmUuid, 'serial.sock'), 'echo GUEST-WROTE-$((6*7)) | dd of=/dev/vdb bs=512 seek=4096 conv=fsync 2>/dev/null; echo WRITE-DONE-$((6*7))');
    await waitForSerial(serial(src), 'WRITE-DONE-42', 30_000);
  }, 300_000);

  afterAll(async () => {
    await src.tearDown();
    await dst.tearDown();
    rmSync(ps, { recursive: true, force: true });
  }, 60_000);

  it('a migration that fails after the destination made its disks leaves the VM running at the source and nothing at the destination', async () => {
    // The destination agent answers, but its migration address (on its lo) is unreachable from the source.
    dst.inNs(['ip', 'addr', 'add', '10.253.77.2/32', 'dev', 'lo']);
    await expect(migrate({ destHostManagementIp: '10.253.77.2' })).rejects.toThrow(/Failed to connect to '10.253.77.2/);
    expect(await states(src)).toEqual({ [vmUuid]: 'Running' });
    expect(await states(dst)).toEqual({});
    expect(qemuPids(dst.dataDir)).toEqual([]);
    expect(existsSync(join(own(dst), rootRel))).toBe(false);
    expect(existsSync(join(own(dst), dataRel))).toBe(false);
    expect(existsSync(join(own(dst), `rootVolumes/vol-${rootUuid}`))).toBe(false);
    expect(existsSync(join(own(src), rootRel))).toBe(true);
    expect(readFileSync(serial(src), 'utf8').match(/TINYGUEST-BOOTED/g)).toHaveLength(1);
  }, 120_000);

  it('refuses a destination where a disk\'s file already exists, and leaves that file alone', async () => {
    mkdirSync(join(own(dst), `dataVolumes/vol-${dataUuid}`), { recursive: true });
    writeFileSync(join(own(dst), dataRel), 'not yours');
    await expect(migrate()).rejects.toThrow(/already exists on the destination/);
    expect(readFileSync(join(own(dst), dataRel), 'utf8')).toBe('not yours');
    expect(existsSync(join(own(dst), rootRel))).toBe(false);
    expect(await states(src)).toEqual({ [vmUuid]: 'Running' });
    expect(qemuPids(dst.dataDir)).toEqual([]);
    rmSync(join(own(dst), 'dataVolumes'), { recursive: true });
  }, 60_000);

  it('moves the running VM with its disks: intact on the destination, gone at the source, no reboot, progress reported', async () => {
    const srcPid = qemuPids(src.dataDir)[0];
    await migrate();
    expect(await states(src)).toEqual({});
    expect(await states(dst)).toEqual({ [vmUuid]: 'Running' });
    expect(qemuPids(src.dataDir)).toEqual([]);
    expect(existsSync(`/proc/${srcPid}/cmdline`) && readFileSync(`/proc/${srcPid}/cmdline`, 'utf8').includes(src.dataDir)).toBe(false);
    // The source's copies are gone (its folders too); its image cache stays.
    expect(existsSync(join(own(src), rootRel))).toBe(false);
    expect(existsSync(join(own(src), `dataVolumes/vol-${dataUuid}`))).toBe(false);
    expect(existsSync(join(own(src), cache))).toBe(true);
    // The root copy stands on the destination's cache (only its layer moved); the data copy is whole.
    expect(info(dst, join(ps, rootRel))['full-backing-filename']).toBe(join(ps, cache));
    expect(info(dst, join(ps, rootRel))['virtual-size']).toBe(baseSize + 64 * MiB);
    expect(info(dst, join(ps, dataRel))['full-backing-filename']).toBeUndefined();
    expect(qemuIo(dst, join(ps, rootRel), `read -P 0xab ${baseSize} 1M`)).not.toMatch(/fail/i);
    expect(qemuIo(dst, join(ps, dataRel), `read -P 0xcd ${200 * MiB} 1M`)).not.toMatch(/fail/i);
    // The guest runs on where it was: no boot on the destination, and it reads back what it wrote.
    await typeOnSerial(join(dst.dataDir, 'vms', vmUuid, 'serial.sock'), 'dd if=/dev/vdb bs=512 skip=4096 count=1 2>/dev/null | head -c 15; echo " READ-$((6*7))"');
    const log = await waitForSerial(serial(dst), 'READ-42', 30_000);
    expect(log).toContain('GUEST-WROTE-42');
    expect(log).not.toContain('TINYGUEST-BOOTED');
    // Progress went to the node that sent /vm/migrate, up to 100.
    const percents = src.reports.filter((r) => r.commandPath === '/vm/migrate/progress').map((r) => Number(r.body.percent));
    expect(percents.at(-1)).toBe(100);
    expect(src.reports.find((r) => r.commandPath === '/vm/migrate/progress')?.body.vmInstanceUuid).toBe(vmUuid);
  }, 240_000);

  it('moves it back with FullCopy: standalone copies on the source, the data still there', async () => {
    await dst.client.call(dst.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostManagementIp: ips.aIp, destAgentToken: src.token, storageMigrationPolicy: 'FullCopy' });
    expect(await states(src)).toEqual({ [vmUuid]: 'Running' });
    expect(await states(dst)).toEqual({});
    expect(existsSync(join(own(dst), rootRel))).toBe(false);
    expect(info(src, join(ps, rootRel))['full-backing-filename']).toBeUndefined();
    expect(qemuIo(src, join(ps, rootRel), `read -P 0xab ${baseSize} 1M`)).not.toMatch(/fail/i);
    expect(qemuIo(src, join(ps, dataRel), `read -P 0xcd ${200 * MiB} 1M`)).not.toMatch(/fail/i);
    await typeOnSerial(join(src.dataDir, 'vms', vmUuid, 'serial.sock'), 'echo BACK-$((6*7))');
    // (the source's console log starts anew with the incoming QEMU: a reboot would print the marker again)
    expect(await waitForSerial(serial(src), 'BACK-42', 30_000)).not.toContain('TINYGUEST-BOOTED');
    // The pauses the migrations made (and the failed ones' resumes) were not reported as the guest's.
    expect([...src.reports, ...dst.reports].filter((r) => r.commandPath === '/kvm/reportvmstate')).toEqual([]);
    await src.client.call(src.endpoint, '/vm/destroy', { vmInstanceUuid: vmUuid });
  }, 240_000);
});
