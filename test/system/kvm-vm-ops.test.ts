import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../../src/api/catalog.ts';
import { ApiCallError, callApi } from '../../src/cli/client.ts';
import { agentDataDirOf, STRATO_ROOT } from '../../src/core/ansible/index.ts';
import { canRunAgentTests } from '../agent/harness.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

/**
 * Every VM operation on a real KVM host, all through the API: one VM booted once (TCG time is
 * precious) on a pretend host whose agent Ansible deployed, then reboot, pause/resume, data volumes
 * the guest sees, snapshots revert and merge on the real qcow2 files, resizes, an agent restart, a
 * killed QEMU, and destroy + expunge leaving nothing. The cases run in order, each from where the
 * previous one left the VM. Bad image URLs and checksums fail AddImage cleanly. SQLite only.
 */
const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'qemu-io', 'ansible-playbook', 'sshd', 'start-stop-daemon');
const LONG = 300_000;
const BOOT_MS = 150_000;
const MARKER = 'TINYGUEST-BOOTED';
const MiB = 1024 ** 2;

const virtualSize = (file: string) => (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { 'virtual-size': number })['virtual-size'];
const backingOf = (file: string) => (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { 'full-backing-filename'?: string })['full-backing-filename'];
/** The first bytes of a qcow2 chain as the guest would read them (read-only, shared: QEMU may hold it). */
const headOf = (file: string, n: number) => {
  const out = execFileSync('qemu-io', ['-r', '-U', '-f', 'qcow2', '-c', `read -v 0 ${n}`, file], { encoding: 'utf8' });
  // `read -v` dumps "00000000:  53 54 52 ...  STR..." (its ASCII column dots punctuation): decode the hex bytes.
  const hex = out.split('\n').filter((l) => /^[0-9a-f]{8}: /.test(l)).flatMap((l) => l.slice(10).split('  ')[0].trim().split(' '));
  return Buffer.from(hex.join(''), 'hex').toString('latin1').slice(0, n);
};
/** A live process; a zombie (exited, not yet reaped by this machine's init) counts as gone. */
const alive = (pid: number) => processRuns(pid);

describe.skipIf(!canRun)('VM operations on a KVM host through the API (reboot, pause, volumes, snapshots, resize, agent restart, crash, expunge)', () => {
  let h: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  let files: Server | undefined;
  const ids: Record<string, string> = {};
  const leftBehind: string[] = [];
  const db = () => t.node.ctx.db;

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };
  /** The API's error for a call that must fail (its ErrorCode as ZStack shapes it). */
  const apiError = async (name: string, params: Record<string, unknown>): Promise<{ code: string; description: string; details: string }> => {
    try {
      await api(name, params);
    } catch (e) {
      if (e instanceof ApiCallError) return (e.body as { error: { code: string; description: string; details: string } }).error;
      throw e;
    }
    throw new Error(`${name} succeeded but was expected to fail`);
  };
  const agentDir = () => agentDataDirOf(rootDir, ids.host);
  const serialLog = () => join(agentDir(), 'logs', `${ids.vm}.serial.log`);
  const serial = () => (existsSync(serialLog()) ? readFileSync(serialLog(), 'utf8') : '');
  const qemuPid = () => {
    const f = join(agentDir(), 'vms', ids.vm, 'qemu.pid');
    return existsSync(f) ? Number(readFileSync(f, 'utf8')) : undefined;
  };
  const vmState = async () => (await api('QueryVmInstance', { q: [`uuid=${ids.vm}`] })).inventories[0]?.state as string | undefined;
  const volumeRow = (uuid: string) => db().selectFrom('volume').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
  /** Asks the host's agent itself (as the node would): the QMP status of the VM. */
  const agentState = async () => {
    const host = await db().selectFrom('host').select(['managementIp', 'agentToken']).where('uuid', '=', ids.host).executeTakeFirstOrThrow();
    const r = await t.node.ctx.agents.call<{ success: boolean; states: Record<string, string> }>({ url: `http://${String(host.managementIp)}:7070`, token: String(host.agentToken) }, '/vm/checkstate', { vmInstanceUuids: [ids.vm] });
    return r.states[ids.vm];
  };
  /** Types a line on the guest's serial console (the tiny guest keeps a root shell there). */
  const typeOnSerial = (line: string) => new Promise<void>((resolve, reject) => {
    const s = connect(join(agentDir(), 'vms', ids.vm, 'serial.sock'), () => {
      s.write(`\n${line}\n`, () => setTimeout(() => {
        s.destroy();
        resolve();
      }, 300));
    });
    s.once('error', reject);
  });
  /** Runs a shell line in the guest; `done` is printed by the guest when it finished (computed, so the echoed command never matches). */
  let step = 100;
  const inGuest = async (line: string) => {
    step += 1;
    const done = `GUEST-DONE-${step}`;
    // A line typed while the guest's shell is still starting can be lost: type it again (every line here may run twice).
    for (let attempt = 1; ; attempt++) {
      await typeOnSerial(`${line}; echo GUEST-DONE-$((${step - 1}+1))`);
      try {
        return await waitUntil(() => serial().includes(done), 20_000);
      } catch (e) {
        if (attempt === 3) throw e;
      }
    }
  };
  const bootCount = () => serial().split(MARKER).length - 1;
  /** The agent's name for the L3's DHCP namespace on the host (src/agent/network/flat-dhcp.ts). */
  const dhcpNamespace = () => `strato-dhcp-${createHash('sha1').update(`${agentDir()}\n${ids.l3}`).digest('hex').slice(0, 12)}`;
  const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h = await createPretendHost();
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-vmops-'));
    t = await startTestNode('sqlite', { node: { host: h.gatewayIp, advertiseHost: h.gatewayIp } });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    // No ping rounds: every reconnect seen here is the one the agent asked for.
    await c.call('PUT', '/global-configurations/host/ping.interval/actions', { updateGlobalConfig: { value: '3600' } });
    ids.zone = (await api('CreateZone', { name: 'ops-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'ops-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'ops-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    ids.l2 = (await api('CreateL2NoVlanNetwork', { name: 'ops-l2', zoneUuid: ids.zone, physicalInterface: 'eth0' })).inventory.uuid;
    await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids.l2 });
    ids.l3 = (await api('CreateL3Network', { name: 'ops-l3', l2NetworkUuid: ids.l2, category: 'Private' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.l3, name: 'ops-range', startIp: '192.168.252.10', endIp: '192.168.252.100', netmask: '255.255.255.0', gateway: '192.168.252.1' });
    // DHCP from the Flat provider: the node serves the NIC's address from a namespace on the host.
    const flat = (await api('QueryNetworkServiceProvider', { q: ['type=Flat'] })).inventories[0].uuid;
    await api('AttachNetworkServiceToL3Network', { l3NetworkUuid: ids.l3, networkServices: { [flat]: ['DHCP'] } });
    ids.offering = (await api('CreateInstanceOffering', { name: 'ops-io', cpuNum: 1, memorySize: 256 * MiB })).inventory.uuid;
    const [host, bs] = await Promise.all([
      api('AddKVMHost', { name: 'ops-host', clusterUuid: ids.cluster, managementIp: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'ops-bs', url: join(rootDir, 'image-store'), hostname: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
    ]);
    ids.host = host.inventory.uuid;
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
    const vm = (await api('CreateVmInstance', { name: 'ops-vm', instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [ids.l3] })).inventory;
    ids.vm = vm.uuid;
    ids.root = vm.rootVolumeUuid;
    await waitUntil(() => serial().includes(MARKER), BOOT_MS);
  }, LONG + BOOT_MS);

  afterAll(async () => {
    files?.close();
    if (ids.vm) await api('DestroyVmInstance', { uuid: ids.vm }).catch(() => undefined);
    for (const key of ['data', 'data2']) if (ids[key]) await api('DeleteDataVolume', { uuid: ids[key] }).catch(() => undefined);
    if (ids.host) await api('DeleteHost', { uuid: ids.host }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    // A test that failed midway may leave the L3's DHCP namespace (named by the agent from its directory
    // and the L3) with its dnsmasq: neither is inside the pretend host's namespace, so destroy() misses them.
    if (ids.host && ids.l3) {
      const ns = dhcpNamespace();
      const pids = (() => {
        try {
          return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean).map(Number);
        } catch {
          return [];
        }
      })();
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* not there: nothing was left */
      }
    }
    await h?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it("gives the guest its NIC's address by the Flat provider's DHCP on the host", async () => {
    const nic = await db().selectFrom('vm_nic').select('ip').where('vmInstanceUuid', '=', ids.vm).executeTakeFirstOrThrow();
    await waitUntil(() => serial().includes(`TINYGUEST-IP eth0 ${String(nic.ip)}/`), 60_000);
    expect(readFileSync(join(agentDir(), 'dhcp', ids.l3, 'hosts'), 'utf8')).toContain(String(nic.ip));
    expect(namespaces()).toContain(dhcpNamespace());
  }, LONG);

  it('reboots the VM: the guest boots a second time, the VM stays Running on the same QEMU', async () => {
    const pid = qemuPid()!;
    const boots = bootCount();
    expect((await api('RebootVmInstance', { uuid: ids.vm })).inventory.state).toBe('Running');
    await waitUntil(() => bootCount() > boots, BOOT_MS);
    expect(qemuPid()).toBe(pid);
    expect(await vmState()).toBe('Running');
  }, LONG);

  it('pauses and resumes the VM: QEMU reports paused/running to its agent, the API says Paused/Running', async () => {
    expect((await api('PauseVmInstance', { uuid: ids.vm })).inventory.state).toBe('Paused');
    expect(await agentState()).toBe('Paused');
    expect(await vmState()).toBe('Paused');
    // A paused VM cannot be rebooted: refused with the state error, still Paused.
    expect((await apiError('RebootVmInstance', { uuid: ids.vm })).code).toBe('VM.1010');
    expect((await api('ResumeVmInstance', { uuid: ids.vm })).inventory.state).toBe('Running');
    expect(await agentState()).toBe('Running');
    expect(await vmState()).toBe('Running');
  }, LONG);

  it('creates a data volume and hot-attaches it: the guest sees a disk of its size', async () => {
    const vol = (await api('CreateDataVolume', { name: 'ops-data', diskSize: 64 * MiB, primaryStorageUuid: ids.ps })).inventory;
    ids.data = vol.uuid;
    const attached = (await api('AttachDataVolumeToVm', { volumeUuid: vol.uuid, vmInstanceUuid: ids.vm })).inventory;
    expect(attached).toMatchObject({ vmInstanceUuid: ids.vm, status: 'Ready' });
    await waitUntil(() => /TINYGUEST-DISK vdb sectors=131072/.test(serial()), 60_000);
    const row = await volumeRow(vol.uuid);
    expect(existsSync(String(row.installPath))).toBe(true);
    expect(virtualSize(String(row.installPath))).toBe(64 * MiB);

    // One made without a primary storage is instantiated where the VM runs when it is attached.
    const second = (await api('CreateDataVolume', { name: 'ops-data-2', diskSize: 32 * MiB })).inventory;
    ids.data2 = second.uuid;
    expect(second.status).toBe('NotInstantiated');
    expect((await api('AttachDataVolumeToVm', { volumeUuid: second.uuid, vmInstanceUuid: ids.vm })).inventory).toMatchObject({ vmInstanceUuid: ids.vm, status: 'Ready', primaryStorageUuid: ids.ps });
    await waitUntil(() => /TINYGUEST-DISK vdc sectors=65536/.test(serial()), 60_000);
    expect(virtualSize(String((await volumeRow(second.uuid)).installPath))).toBe(32 * MiB);
  }, LONG);

  it('snapshots the data volume live; revert is refused while the VM runs and brings the data back once it is stopped; delete merges', async () => {
    const path = String((await volumeRow(ids.data)).installPath);
    await inGuest('printf STRATO-DATA-1 | dd of=/dev/vdb conv=fsync 2>/dev/null');
    const snap = (await api('CreateVolumeSnapshot', { volumeUuid: ids.data, name: 'ops-snap' })).inventory;
    ids.snap = snap.uuid;
    const snapPath = String(snap.primaryStorageInstallPath);
    expect(existsSync(snapPath)).toBe(true);
    leftBehind.push(snapPath);
    expect(backingOf(path)).toBe(snapPath);
    await inGuest('printf STRATO-DATA-2 | dd of=/dev/vdb conv=fsync 2>/dev/null');
    expect(headOf(path, 13)).toBe('STRATO-DATA-2');

    const refused = await apiError('RevertVolumeFromSnapshot', { uuid: snap.uuid });
    expect(refused.code).toBe('VM.1010');
    expect(refused.details).toMatch(/must be Stopped/);
    expect(headOf(path, 13)).toBe('STRATO-DATA-2');
    // Merging a snapshot into a disk QEMU is writing (live block commit) is not done: refused, nothing changed.
    const undeletable = await apiError('DeleteVolumeSnapshot', { uuid: snap.uuid });
    expect(undeletable.details).toMatch(/stop the VM first/);
    expect(existsSync(snapPath)).toBe(true);
    expect(backingOf(path)).toBe(snapPath);
    expect((await api('QueryVolumeSnapshot', { q: [`uuid=${snap.uuid}`] })).inventories).toHaveLength(1);

    expect((await api('StopVmInstance', { uuid: ids.vm })).inventory.state).toBe('Stopped');
    await api('RevertVolumeFromSnapshot', { uuid: snap.uuid });
    expect(headOf(path, 13)).toBe('STRATO-DATA-1');
    expect(backingOf(path)).toBe(snapPath);

    await api('DeleteVolumeSnapshot', { uuid: snap.uuid });
    delete ids.snap;
    expect(existsSync(snapPath)).toBe(false);
    expect(backingOf(path)).toBeUndefined();
    expect(headOf(path, 13)).toBe('STRATO-DATA-1');
    expect((await api('QueryVolumeSnapshot', { q: [`volumeUuid=${ids.data}`] })).inventories).toEqual([]);

    // Started again, the guest finds the disk attached and reads the reverted data.
    expect((await api('StartVmInstance', { uuid: ids.vm })).inventory.state).toBe('Running');
    // Both data disks come back in the order they were attached (vdb the first, vdc the second).
    await waitUntil(() => serial().includes(MARKER) && /TINYGUEST-DISK vdc/.test(serial()), BOOT_MS);
    expect(serial()).toMatch(/TINYGUEST-DISK vdb sectors=131072/);
    expect(serial()).toMatch(/TINYGUEST-DISK vdc sectors=65536/);
    await inGuest('dd if=/dev/vdb bs=13 count=1 2>/dev/null | tr A-Z a-z; echo');
    expect(serial()).toContain('strato-data-1');
  }, LONG + BOOT_MS);

  it('detaches the data volume from the running VM: out of its QEMU, the file kept', async () => {
    const path = String((await volumeRow(ids.data)).installPath);
    const spec = () => readFileSync(join(agentDir(), 'vms', ids.vm, 'spec.json'), 'utf8');
    expect(spec()).toContain(path);
    const detached = await api('DetachDataVolumeFromVm', { uuid: ids.data });
    expect(detached.inventory.vmInstanceUuid ?? null).toBeNull();
    expect(spec()).not.toContain(path);
    expect(existsSync(path)).toBe(true);
    expect(await vmState()).toBe('Running');
  }, LONG);

  it('grows the root volume of the running VM and the detached data volume: their qcow2 virtual sizes grow', async () => {
    const root = await volumeRow(ids.root);
    const rootPath = String(root.installPath);
    const before = virtualSize(rootPath);
    const grown = before + 64 * MiB;
    const resized = (await api('ResizeRootVolume', { uuid: ids.root, size: grown })).inventory;
    expect(Number(resized.size)).toBe(grown);
    expect(virtualSize(rootPath)).toBe(grown);
    expect(qemuPid()).toBeDefined();

    const dataPath = String((await volumeRow(ids.data)).installPath);
    const data = (await api('ResizeDataVolume', { uuid: ids.data, size: 96 * MiB })).inventory;
    expect(Number(data.size)).toBe(96 * MiB);
    expect(virtualSize(dataPath)).toBe(96 * MiB);
    // Shrinking is refused, and changes nothing.
    expect((await apiError('ResizeDataVolume', { uuid: ids.data, size: 32 * MiB })).details).toMatch(/only grow/);
    expect(virtualSize(dataPath)).toBe(96 * MiB);
  }, LONG);

  it('keeps the VM running across an agent restart on its host: same QEMU, still Running, the host reconnected', async () => {
    const pid = qemuPid()!;
    const dir = agentDir();
    const agentPid = Number(readFileSync(join(dir, 'agent.pid'), 'utf8'));
    process.kill(agentPid, 'SIGKILL');
    await waitUntil(() => !alive(agentPid));
    const connectedBefore = await lastConnected();
    // Restarted over SSH, as an operator would: the agent then shares sshd's view of the host (its mounts:
    // a DHCP namespace the old agent made is visible to it, which an `ip netns exec` from outside would not give).
    await sshToHost('start-stop-daemon', ['--start', '--background', '--make-pidfile', '--pidfile', join(dir, 'agent.pid'), '--output', join(dir, 'agent.log'), '--exec', '/usr/bin/node', '--', join(STRATO_ROOT, 'bin/strato.js'), 'agent', '--port', '7070', '--host', '0.0.0.0', '--data-dir', dir]);
    // The agent asks with /kvm/reconnectme; the node reconnects the host (and syncs its VMs).
    await waitUntil(async () => (await lastConnected()) > connectedBefore, 150_000);
    expect(qemuPid()).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect(await vmState()).toBe('Running');
    expect(await agentState()).toBe('Running');
    // The new agent drives the old QEMU.
    expect((await api('PauseVmInstance', { uuid: ids.vm })).inventory.state).toBe('Paused');
    expect((await api('ResumeVmInstance', { uuid: ids.vm })).inventory.state).toBe('Running');

    // Killed and not restarted on the host: ReconnectHost redeploys the agent (Ansible), which takes the VM over.
    const second = Number(readFileSync(join(dir, 'agent.pid'), 'utf8'));
    process.kill(second, 'SIGKILL');
    await waitUntil(() => !alive(second));
    expect((await api('ReconnectHost', { uuid: ids.host })).inventory.status).toBe('Connected');
    const third = Number(readFileSync(join(dir, 'agent.pid'), 'utf8'));
    expect(third).not.toBe(second);
    expect(alive(third)).toBe(true);
    expect(qemuPid()).toBe(pid);
    expect(await vmState()).toBe('Running');
    expect(await agentState()).toBe('Running');
  }, LONG);

  it('marks the VM Stopped when its QEMU is killed (the agent reports it); the stopped root volume grows and snapshots; StartVmInstance boots it again', async () => {
    const pid = qemuPid()!;
    process.kill(pid, 'SIGKILL');
    await waitUntil(async () => (await vmState()) === 'Stopped', 30_000);
    const vm = (await api('QueryVmInstance', { q: [`uuid=${ids.vm}`] })).inventories[0];
    expect(vm.hostUuid ?? null).toBeNull();
    // Its CPU and memory are given back to the host.
    const host = (await api('QueryHost', { q: [`uuid=${ids.host}`] })).inventories[0];
    expect(host.availableCpuCapacity).toBe(host.totalCpuCapacity);
    expect(host.availableMemoryCapacity).toBe(host.totalMemoryCapacity);

    const rootPath = String((await volumeRow(ids.root)).installPath);
    const grown = virtualSize(rootPath) + 32 * MiB;
    await api('ResizeRootVolume', { uuid: ids.root, size: grown });
    expect(virtualSize(rootPath)).toBe(grown);
    // The host's DHCP namespace for the L3 went with the VM's only NIC there.
    await waitUntil(() => !existsSync(join(agentDir(), 'dhcp', ids.l3)), 30_000);
    const snap = (await api('CreateVolumeSnapshot', { volumeUuid: ids.root, name: 'ops-root-snap' })).inventory;
    leftBehind.push(String(snap.primaryStorageInstallPath));
    // A snapshot of the attached data volume too: its file must go when the volume is expunged.
    const dataSnap = (await api('CreateVolumeSnapshot', { volumeUuid: ids.data2, name: 'ops-data2-snap' })).inventory;
    leftBehind.push(String(dataSnap.primaryStorageInstallPath));
    expect(existsSync(String(dataSnap.primaryStorageInstallPath))).toBe(true);
    expect(backingOf(rootPath)).toBe(String(snap.primaryStorageInstallPath));

    expect((await api('StartVmInstance', { uuid: ids.vm })).inventory.state).toBe('Running');
    expect(qemuPid()).not.toBe(pid);
    // The guest sees the grown root disk.
    await waitUntil(() => new RegExp(`TINYGUEST-DISK vda sectors=${grown / 512}\\b`).test(serial()), BOOT_MS);
    // Its DHCP came back with it.
    const nic = await db().selectFrom('vm_nic').select('ip').where('vmInstanceUuid', '=', ids.vm).executeTakeFirstOrThrow();
    await waitUntil(() => serial().includes(`TINYGUEST-IP eth0 ${String(nic.ip)}/`), 60_000);
  }, LONG + BOOT_MS);

  it('destroys and expunges the VM (its attached data volume is detached and kept) and the data volumes: no QEMU, tap, volume or snapshot file, DHCP lease or namespace', async () => {
    const pid = qemuPid()!;
    const nic = await db().selectFrom('vm_nic').select(['internalName', 'mac']).where('vmInstanceUuid', '=', ids.vm).executeTakeFirstOrThrow();
    const rootPath = String((await volumeRow(ids.root)).installPath);
    const dataPath = String((await volumeRow(ids.data)).installPath);
    leftBehind.push(rootPath, dataPath);
    const data2Path = String((await volumeRow(ids.data2)).installPath);
    leftBehind.push(data2Path);
    await api('DestroyVmInstance', { uuid: ids.vm });
    await api('ExpungeVmInstance', { uuid: ids.vm });
    delete ids.vm;
    const kept = await volumeRow(ids.data2);
    expect(kept).toMatchObject({ vmInstanceUuid: null, status: 'Ready' });
    expect(existsSync(data2Path)).toBe(true);
    for (const key of ['data', 'data2']) {
      await api('DeleteDataVolume', { uuid: ids[key] });
      await api('ExpungeDataVolume', { uuid: ids[key] }).catch((e: unknown) => {
        // Under the Direct deletion policy the delete already expunged it.
        if (!(e instanceof ApiCallError)) throw e;
      });
      delete ids[key];
    }
    await waitUntil(() => !alive(pid));
    expect((await h.exec('ip', ['-o', 'link', 'show'])).stdout).not.toContain(String(nic.internalName));
    expect(leftBehind.filter((f) => existsSync(f))).toEqual([]);
    expect(await db().selectFrom('volume_snapshot').select('uuid').execute()).toEqual([]);
    expect(await db().selectFrom('volume').select('uuid').execute()).toEqual([]);
    // No DHCP lease left: the host ran no other VM of the L3, so its DHCP namespace and dnsmasq went too.
    expect(existsSync(join(agentDir(), 'dhcp', ids.l3))).toBe(false);
    expect(namespaces()).not.toContain(dhcpNamespace());
    expect(processesMentioning(join(agentDir(), 'dhcp'))).toEqual([]);
    expect(readdirSync(join(agentDir(), 'vms'))).toEqual([]);
  }, LONG);

  describe('AddImage with a bad source fails the job clearly and leaves no image row nor file on the store', () => {
    const body = Buffer.from('not really a disk image, but bytes to hash\n');
    let base: string;
    beforeAll(async () => {
      // Served on the root side of the pretend host's link: the image store's agent fetches from there.
      files = createServer((req, res) => {
        if (req.url === '/image.qcow2') res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(body);
        else res.writeHead(404).end('no such file');
      });
      await new Promise<void>((resolve) => files!.listen(0, h.gatewayIp, resolve));
      base = `http://${h.gatewayIp}:${(files.address() as { port: number }).port}`;
    });

    const storeImages = () => {
      const dir = join(rootDir, 'image-store', 'images');
      return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => !f.startsWith(ids.image)) : [];
    };
    const imageRows = async () => (await db().selectFrom('image').select('uuid').where('uuid', '!=', ids.image).execute()).length;

    it('a URL answering 404', async () => {
      const err = await apiError('AddImage', { name: 'missing', url: `${base}/missing.qcow2`, format: 'qcow2', backupStorageUuids: [ids.bs] });
      expect(`${err.description} ${err.details}`).toMatch(/404/);
      expect(await imageRows()).toBe(0);
      expect(storeImages()).toEqual([]);
    }, LONG);

    it('a wrong md5 or sha256 checksum', async () => {
      const md5 = createHash('md5').update(body).digest('hex');
      for (const tag of [`checksum::${'0'.repeat(32)}`, `checksum::${'f'.repeat(64)}`]) {
        const err = await apiError('AddImage', { name: 'corrupt', url: `${base}/image.qcow2`, format: 'raw', backupStorageUuids: [ids.bs], systemTags: [tag] });
        expect(err.details).toMatch(/checksum mismatch/);
        expect(await imageRows()).toBe(0);
        expect(storeImages()).toEqual([]);
      }
      // A checksum that is neither md5 nor sha256 is refused before anything is downloaded.
      expect((await apiError('AddImage', { name: 'malformed', url: `${base}/image.qcow2`, format: 'raw', backupStorageUuids: [ids.bs], systemTags: ['checksum::xyz'] })).details).toMatch(/neither an md5.*nor a sha256/);
      expect(await imageRows()).toBe(0);
      // The right checksum passes (the check is real, not a refusal of every checksum).
      const ok = (await api('AddImage', { name: 'fine', url: `${base}/image.qcow2`, format: 'raw', backupStorageUuids: [ids.bs], systemTags: [`checksum::${md5}`] })).inventory;
      expect(ok).toMatchObject({ status: 'Ready', md5Sum: md5 });
      await api('DeleteImage', { uuid: ok.uuid });
      await api('ExpungeImage', { uuid: ok.uuid });
    }, LONG);
  });

  async function sshToHost(cmd: string, args: string[]): Promise<void> {
    const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    execFileSync('ssh', ['-i', join(h.dir, 'id'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-p', String(h.sshPort), `root@${h.ip}`, '--', [cmd, ...args].map(quote).join(' ')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  }

  /** When the host service last finished connecting the host (its lastOpDate moves on every connect). */
  async function lastConnected(): Promise<number> {
    const row = await db().selectFrom('host').select(['status', 'lastOpDate']).where('uuid', '=', ids.host).executeTakeFirstOrThrow();
    return row.status === 'Connected' ? Number(row.lastOpDate) : 0;
  }
});

/** PIDs of the machine's processes whose command line names `text` (dnsmasq runs in a namespace of its own). */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  });
}

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await fn())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
