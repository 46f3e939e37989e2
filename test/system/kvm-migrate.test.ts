import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../../src/api/catalog.ts';
import { callApi } from '../../src/cli/client.ts';
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { stepFailures } from '../support/failing-steps.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { typeOnSerial, waitUntil } from '../support/guest-serial.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

const run = promisify(execFile);
const LONG = 300_000;
const MARKER = 'TINYGUEST-BOOTED';
const MiB = 1024 * 1024;
const failures = stepFailures('test-failing-kvm-migrate');

/**
 * Live migration of a VM on local storage, all through the API: two pretend hosts with agents deployed
 * by AddKVMHost, joined by a direct link (their management addresses routed over it), each seeing its
 * OWN directory at the local storage's path (a bind mount in the host's mount namespace, as two machines
 * have two disks). MigrateVm moves the running VM: QEMU on the other host, the volume files copied there
 * and gone from the source, the records and capacity moved, the guest's data intact and no reboot. A
 * migration whose target agent is down leaves the VM running at the source with everything as before.
 */
describe('MigrateVm of a VM on local storage between two KVM hosts, through the API', () => {
  let h1: PretendHost;
  let h2: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  let psUrl: string;
  const ids: Record<string, string> = {};
  const db = () => t.node.ctx.db;

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };
  const agentDir = (host: string) => agentDataDirOf(rootDir, host);
  const agentPid = (host: string) => Number(readFileSync(join(agentDir(host), 'agent.pid'), 'utf8'));
  const qemuPid = (host: string, vm: string) => {
    const f = join(agentDir(host), 'vms', vm, 'qemu.pid');
    return existsSync(f) ? Number(readFileSync(f, 'utf8')) : undefined;
  };
  const serialLog = (host: string, vm: string) => join(agentDir(host), 'logs', `${vm}.serial.log`);
  /** A live process; a zombie (exited, not yet reaped by this machine's init) counts as gone. */
  const alive = (pid: number) => processRuns(pid);
  /** Where a pretend host keeps a local-storage file (its own directory, bind-mounted at the storage's path for its processes). */
  const onDisk = (h: PretendHost, installPath: string) => join(h.dir, 'ps', installPath.slice(psUrl.length));
  /** The host's processes see the storage's path as their own directory: mounted in the agent's (and sshd's) mount namespace. */
  const privateStorage = async (h: PretendHost, host: string) => {
    mkdirSync(join(h.dir, 'ps'), { recursive: true });
    await run('nsenter', ['-t', String(agentPid(host)), '-m', '--', 'mount', '--bind', join(h.dir, 'ps'), psUrl]);
  };
  const inHost = async (host: string, cmd: string, ...args: string[]) => (await run('nsenter', ['-t', String(agentPid(host)), '-m', '--', cmd, ...args])).stdout;
  const volumes = () => db().selectFrom('volume').select(['uuid', 'installPath', 'size', 'type']).where('vmInstanceUuid', '=', ids.vm).orderBy('type', 'desc').execute();
  const refs = () => db().selectFrom('local_storage_resource_ref').select(['resourceUuid', 'hostUuid', 'resourceType', 'size']).where('primaryStorageUuid', '=', ids.ps).orderBy('resourceUuid').orderBy('hostUuid').execute();
  const available = async () => Object.fromEntries((await db().selectFrom('local_storage_host_ref').select(['hostUuid', 'availableCapacity']).where('primaryStorageUuid', '=', ids.ps).execute()).map((r) => [r.hostUuid as string, Number(r.availableCapacity)]));
  const vmRow = () => db().selectFrom('vm_instance').select(['state', 'hostUuid', 'lastHostUuid']).where('uuid', '=', ids.vm).executeTakeFirstOrThrow();

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h1 = await createPretendHost();
    h2 = await createPretendHost();
    // A direct link between the two hosts; each one's management address is routed over it (the root namespace does not forward).
    const n = 1 + Math.floor(Math.random() * 250);
    const tag = Math.random().toString(36).slice(2, 8);
    await run('ip', ['link', 'add', `vmg${tag}a`, 'type', 'veth', 'peer', 'name', `vmg${tag}b`]);
    for (const [h, end, ip, peer, peerIp] of [[h1, `vmg${tag}a`, `10.254.${n}.1`, h2, `10.254.${n}.2`], [h2, `vmg${tag}b`, `10.254.${n}.2`, h1, `10.254.${n}.1`]] as const) {
      await run('ip', ['link', 'set', end, 'netns', h.name]);
      await run('ip', ['-n', h.name, 'addr', 'add', `${ip}/24`, 'dev', end]);
      await run('ip', ['-n', h.name, 'link', 'set', end, 'up']);
      await run('ip', ['-n', h.name, 'route', 'add', `${peer.ip}/32`, 'via', peerIp]);
    }
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-kvm-migrate-'));
    psUrl = join(rootDir, 'local-ps');
    t = await startTestNode('sqlite', { node: { host: h1.gatewayIp, advertiseHost: h1.gatewayIp }, modules: [failures.module] });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    ids.zone = (await api('CreateZone', { name: 'mig-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'mig-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'mig-ps', zoneUuid: ids.zone, url: psUrl })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    ids.l2 = (await api('CreateL2NoVlanNetwork', { name: 'mig-l2', zoneUuid: ids.zone, physicalInterface: 'eth0' })).inventory.uuid;
    await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids.l2 });
    ids.l3 = (await api('CreateL3Network', { name: 'mig-l3', l2NetworkUuid: ids.l2, category: 'Private' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.l3, name: 'mig-range', startIp: '192.168.252.10', endIp: '192.168.252.100', netmask: '255.255.255.0', gateway: '192.168.252.1' });
    ids.offering = (await api('CreateInstanceOffering', { name: 'mig-io', cpuNum: 1, memorySize: 256 * MiB })).inventory.uuid;
    ids.disk = (await api('CreateDiskOffering', { name: 'mig-do', diskSize: 64 * MiB })).inventory.uuid;
    const [host, bs] = await Promise.all([
      api('AddKVMHost', { name: 'mig-h1', clusterUuid: ids.cluster, managementIp: h1.ip, username: 'root', sshPrivateKey: h1.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'mig-bs', url: join(rootDir, 'image-store'), hostname: h1.ip, username: 'root', sshPrivateKey: h1.privateKey }),
    ]);
    ids.h1 = host.inventory.uuid;
    ids.bs = bs.inventory.uuid;
    await privateStorage(h1, ids.h1);
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
    // The VM is made while h1 is the only host: its disks and the image cache are on h1.
    ids.vm = (await api('CreateVmInstance', { name: 'mig-vm', instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [ids.l3], dataDiskOfferingUuids: [ids.disk] })).inventory.uuid;
    await waitUntil(() => existsSync(serialLog(ids.h1, ids.vm)) && readFileSync(serialLog(ids.h1, ids.vm), 'utf8').includes(MARKER), 180_000);
    ids.h2 = (await api('AddKVMHost', { name: 'mig-h2', clusterUuid: ids.cluster, managementIp: h2.ip, username: 'root', sshPrivateKey: h2.privateKey })).inventory.uuid;
    await privateStorage(h2, ids.h2);
  }, LONG);

  afterAll(async () => {
    if (ids.vm) await api('DestroyVmInstance', { uuid: ids.vm }).catch(() => undefined);
    for (const k of ['h1', 'h2']) if (ids[k]) await api('DeleteHost', { uuid: ids[k] }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    await h1?.destroy();
    await h2?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('moves the running VM, its disks, their records and capacity to the other host; the guest runs on', async () => {
    const before = { vols: await volumes(), available: await available(), pid: qemuPid(ids.h1, ids.vm)! };
    expect(before.vols).toHaveLength(2);
    for (const v of before.vols) expect(existsSync(onDisk(h1, String(v.installPath)))).toBe(true);
    expect(alive(before.pid)).toBe(true);
    // The guest writes a marker on its data disk before it leaves.
    await typeOnSerial(join(agentDir(ids.h1), 'vms', ids.vm, 'serial.sock'), 'echo GUEST-WROTE-$((6*7)) | dd of=/dev/vdb bs=512 seek=4096 conv=fsync 2>/dev/null; echo WRITE-DONE-$((6*7))');
    await waitUntil(() => readFileSync(serialLog(ids.h1, ids.vm), 'utf8').includes('WRITE-DONE-42'));

    const vm = (await api('MigrateVm', { uuid: ids.vm, hostUuid: ids.h2 })).inventory;
    expect(vm).toMatchObject({ state: 'Running', hostUuid: ids.h2, lastHostUuid: ids.h1 });
    // QEMU runs on h2 (in its namespace), none on h1.
    const pid = qemuPid(ids.h2, ids.vm)!;
    expect(await h2.pids()).toContain(pid);
    expect(qemuPid(ids.h1, ids.vm)).toBeUndefined();
    await waitUntil(() => !alive(before.pid));
    // The files are on h2's disk only; the root copy stands on h2's image cache (filled from the image store).
    for (const v of before.vols) {
      expect(existsSync(onDisk(h2, String(v.installPath)))).toBe(true);
      expect(existsSync(onDisk(h1, String(v.installPath)))).toBe(false);
    }
    const root = before.vols.find((v) => v.type === 'Root')!;
    const rootInfo = JSON.parse(await inHost(ids.h2, 'qemu-img', 'info', '-U', '--output=json', String(root.installPath))) as { 'full-backing-filename'?: string };
    expect(rootInfo['full-backing-filename']).toBe(join(psUrl, 'imagecache/template', ids.image, `${ids.image}.qcow2`));
    // Records and capacity moved: each volume on h2; h1 got their room back, h2 gave it (and the cache's).
    const r = await refs();
    for (const v of before.vols) expect(r.filter((x) => x.resourceUuid === v.uuid).map((x) => x.hostUuid)).toEqual([ids.h2]);
    const cacheOnH2 = r.find((x) => x.resourceUuid === ids.image && x.hostUuid === ids.h2);
    expect(cacheOnH2).toBeDefined();
    const moved = before.vols.reduce((s, v) => s + Number(v.size), 0);
    const after = await available();
    expect(after[ids.h1] - before.available[ids.h1]).toBe(moved);
    expect(before.available[ids.h2] - after[ids.h2]).toBe(moved + Number(cacheOnH2!.size));
    // The guest never rebooted and reads back what it wrote on h1.
    await typeOnSerial(join(agentDir(ids.h2), 'vms', ids.vm, 'serial.sock'), 'dd if=/dev/vdb bs=512 skip=4096 count=1 2>/dev/null | head -c 15; echo " READ-$((6*7))"');
    await waitUntil(() => readFileSync(serialLog(ids.h2, ids.vm), 'utf8').includes('READ-42'));
    const log = readFileSync(serialLog(ids.h2, ids.vm), 'utf8');
    expect(log).toContain('GUEST-WROTE-42');
    expect(log).not.toContain(MARKER);
    // The agent's progress reached MigrateVm's job.
    const progress = await db().selectFrom('task_progress').select('content').where('taskName', '=', `migrate-vm-${ids.vm}`).execute();
    expect(progress.map((p) => Number(p.content))).toContain(100);
  }, LONG);

  it('a failure after the VM moved (recording it on the target) moves it back with its disks: all as before, the guest never rebooted', async () => {
    const before = { refs: await refs(), available: await available(), vols: await volumes() };
    failures.at = { path: 'vm.migrate/record-on-target', when: 'after' };
    try {
      await expect(api('MigrateVm', { uuid: ids.vm, hostUuid: ids.h1 })).rejects.toThrow(/injected failure/);
    } finally {
      failures.at = undefined;
    }
    expect(await vmRow()).toMatchObject({ state: 'Running', hostUuid: ids.h2, lastHostUuid: ids.h1 });
    expect(alive(qemuPid(ids.h2, ids.vm)!)).toBe(true);
    expect(qemuPid(ids.h1, ids.vm)).toBeUndefined();
    for (const v of before.vols) {
      expect(existsSync(onDisk(h2, String(v.installPath)))).toBe(true);
      expect(existsSync(onDisk(h1, String(v.installPath)))).toBe(false);
    }
    expect(await refs()).toEqual(before.refs);
    expect(await available()).toEqual(before.available);
    await typeOnSerial(join(agentDir(ids.h2), 'vms', ids.vm, 'serial.sock'), 'dd if=/dev/vdb bs=512 skip=4096 count=1 2>/dev/null | head -c 15; echo " AGAIN-$((6*7))"');
    await waitUntil(() => readFileSync(serialLog(ids.h2, ids.vm), 'utf8').includes('AGAIN-42'));
    const log = readFileSync(serialLog(ids.h2, ids.vm), 'utf8');
    expect(log).toContain('GUEST-WROTE-42');
    expect(log).not.toContain(MARKER);
  }, LONG);

  it('a migration whose target agent is down leaves the VM running where it was, with its disks, records and capacity as before', async () => {
    const before = { refs: await refs(), available: await available(), pid: qemuPid(ids.h2, ids.vm)!, vols: await volumes() };
    const h1Agent = agentPid(ids.h1);
    process.kill(h1Agent, 'SIGKILL');
    await waitUntil(() => !alive(h1Agent));
    // The source agent cannot reach the target's to prepare it: nothing was started or made there.
    await expect(api('MigrateVm', { uuid: ids.vm, hostUuid: ids.h1 })).rejects.toThrow(/cannot reach the destination agent at .*\/vm\/migrate\/incoming: ECONNREFUSED/);
    expect(await vmRow()).toMatchObject({ state: 'Running', hostUuid: ids.h2, lastHostUuid: ids.h1 });
    expect(qemuPid(ids.h2, ids.vm)).toBe(before.pid);
    expect(alive(before.pid)).toBe(true);
    for (const v of before.vols) {
      expect(existsSync(onDisk(h2, String(v.installPath)))).toBe(true);
      expect(existsSync(onDisk(h1, String(v.installPath)))).toBe(false);
    }
    expect(await refs()).toEqual(before.refs);
    expect(await available()).toEqual(before.available);
  }, LONG);
});
