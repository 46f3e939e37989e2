import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../../src/api/catalog.ts';
import { callApi } from '../../src/cli/client.ts';
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

/**
 * A VM for real, made only through the API: a KVM host and an image store deployed by Ansible on a
 * pretend host, the built-in image added from a file:// URL to the image store, local primary
 * storage pulling it from there, and a QEMU (TCG) guest whose serial console says TINYGUEST-BOOTED.
 * Stop, start, destroy and expunge leave no QEMU process, tap or volume file behind. SQLite only.
 */
const LONG = 240_000;
const MARKER = 'TINYGUEST-BOOTED';

describe('a VM on a KVM host, its image from an image store, all through the API', () => {
  let h: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  const ids: Record<string, string> = {};
  const db = () => t.node.ctx.db;

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };
  const agentDir = () => agentDataDirOf(rootDir, ids.host);
  const serialLog = (vm: string) => join(agentDir(), 'logs', `${vm}.serial.log`);
  const qemuPid = (vm: string) => {
    const f = join(agentDir(), 'vms', vm, 'qemu.pid');
    return existsSync(f) ? Number(readFileSync(f, 'utf8')) : undefined;
  };
  /** A live process; a zombie (exited, not yet reaped by this machine's init) counts as gone. */
  const alive = (pid: number) => processRuns(pid);
  const links = async () => (await h.exec('ip', ['-o', 'link', 'show'])).stdout;

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h = await createPretendHost();
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-kvm-vm-'));
    t = await startTestNode('sqlite', { node: { host: h.gatewayIp, advertiseHost: h.gatewayIp } });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    ids.zone = (await api('CreateZone', { name: 'vm-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'vm-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'vm-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    ids.l2 = (await api('CreateL2NoVlanNetwork', { name: 'vm-l2', zoneUuid: ids.zone, physicalInterface: 'eth0' })).inventory.uuid;
    await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids.l2 });
    ids.l3 = (await api('CreateL3Network', { name: 'vm-l3', l2NetworkUuid: ids.l2, category: 'Private' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.l3, name: 'vm-range', startIp: '192.168.251.10', endIp: '192.168.251.100', netmask: '255.255.255.0', gateway: '192.168.251.1' });
    ids.offering = (await api('CreateInstanceOffering', { name: 'vm-io', cpuNum: 1, memorySize: 256 * 1024 ** 2 })).inventory.uuid;
    // The KVM host and the image store share the pretend host: two agents, two ports, two directories.
    const [host, bs] = await Promise.all([
      api('AddKVMHost', { name: 'vm-host', clusterUuid: ids.cluster, managementIp: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'vm-bs', url: join(rootDir, 'image-store'), hostname: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
    ]);
    ids.host = host.inventory.uuid;
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
  }, LONG);

  afterAll(async () => {
    if (ids.vm) await api('DestroyVmInstance', { uuid: ids.vm }).catch(() => undefined);
    if (ids.host) await api('DeleteHost', { uuid: ids.host }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    await h?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('has the image on the image store, downloaded and described by its agent', async () => {
    const img = (await api('QueryImage', { q: [`uuid=${ids.image}`] })).inventories[0];
    expect(img).toMatchObject({ status: 'Ready', format: 'qcow2' });
    const ref = await db().selectFrom('image_backup_storage_ref').selectAll().where('imageUuid', '=', ids.image).executeTakeFirstOrThrow();
    expect(String(ref.installPath).startsWith(join(rootDir, 'image-store'))).toBe(true);
    expect(existsSync(String(ref.installPath))).toBe(true);
  });

  it('creates a VM through the API whose serial console shows TINYGUEST-BOOTED; stop and start it', async () => {
    const vm = (await api('CreateVmInstance', { name: 'tiny-vm', instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [ids.l3] })).inventory;
    ids.vm = vm.uuid;
    expect(vm).toMatchObject({ state: 'Running', hostUuid: ids.host });
    await waitUntil(() => existsSync(serialLog(vm.uuid)) && readFileSync(serialLog(vm.uuid), 'utf8').includes(MARKER), 120_000);
    const firstPid = qemuPid(vm.uuid)!;
    expect(await h.pids()).toContain(firstPid);
    // The NIC's tap is in the NoVlan bridge of the L2's interface (br_eth0), which took over the host's address.
    const nic = await db().selectFrom('vm_nic').select('internalName').where('vmInstanceUuid', '=', vm.uuid).executeTakeFirstOrThrow();
    expect((await h.exec('ip', ['-o', 'link', 'show', 'master', 'br_eth0'])).stdout).toContain(String(nic.internalName));
    expect((await h.exec('ip', ['-o', '-4', 'addr', 'show', 'dev', 'br_eth0'])).stdout).toContain(h.ip);

    expect((await api('StopVmInstance', { uuid: vm.uuid })).inventory.state).toBe('Stopped');
    await waitUntil(() => !alive(firstPid));
    expect((await api('StartVmInstance', { uuid: vm.uuid })).inventory.state).toBe('Running');
    const secondPid = qemuPid(vm.uuid)!;
    expect(secondPid).not.toBe(firstPid);
    await waitUntil(() => readFileSync(serialLog(vm.uuid), 'utf8').includes(MARKER), 120_000);
  }, LONG);

  it('destroys and expunges the VM: no QEMU process, no tap, no volume file', async () => {
    const pid = qemuPid(ids.vm)!;
    const nic = await db().selectFrom('vm_nic').select('internalName').where('vmInstanceUuid', '=', ids.vm).executeTakeFirstOrThrow();
    const root = await db().selectFrom('volume').select('installPath').where('vmInstanceUuid', '=', ids.vm).where('type', '=', 'Root').executeTakeFirstOrThrow();
    expect(await links()).toContain(String(nic.internalName));
    expect(existsSync(String(root.installPath))).toBe(true);
    await api('DestroyVmInstance', { uuid: ids.vm });
    await api('ExpungeVmInstance', { uuid: ids.vm });
    delete ids.vm;
    await waitUntil(() => !alive(pid));
    expect(await links()).not.toContain(String(nic.internalName));
    expect(existsSync(String(root.installPath))).toBe(false);
  }, LONG);

  it('expunges the image from the image store, then deleting the store stops its agent and removes its directory', async () => {
    const ref = await db().selectFrom('image_backup_storage_ref').select('installPath').where('imageUuid', '=', ids.image).executeTakeFirstOrThrow();
    await api('DeleteImage', { uuid: ids.image });
    await api('ExpungeImage', { uuid: ids.image });
    expect(existsSync(String(ref.installPath))).toBe(false);
    const bsDir = agentDataDirOf(rootDir, ids.bs, 'bs-');
    const pid = Number(readFileSync(join(bsDir, 'agent.pid'), 'utf8'));
    expect(alive(pid)).toBe(true);
    await api('DeleteBackupStorage', { uuid: ids.bs });
    delete ids.bs;
    expect(alive(pid)).toBe(false);
    expect(existsSync(bsDir)).toBe(false);
    expect(await db().selectFrom('image_store_backup_storage').selectAll().execute()).toEqual([]);
  }, LONG);
});

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await fn())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
