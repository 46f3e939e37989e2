import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { AgentErrors } from '../src/core/agent/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { LocalStorageAgentPaths } from '../src/plugins/local-storage/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { clearSimulatedHostDisks, simulatedSnapshotFiles, simulateHostDisk } from '../src/plugins/simulator-primary-storage/index.ts';
import { countRows, createCluster, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const TABLES = ['volume_snapshot', 'volume_snapshot_tree', 'local_storage_resource_ref', 'user_tag'];

describe.each(testDatabaseKinds())('volume snapshots on local storage through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let hostUuid: string;
  let lsUuid: string;
  let clusterUuid: string;
  const db = () => t.node.ctx.db;
  const agent = () => simulatorFleetOf(t.node.ctx).agent(hostUuid)!;
  const hostAvailable = async () => Number((await db().selectFrom('local_storage_host_ref').select('availableCapacity').where('primaryStorageUuid', '=', lsUuid).where('hostUuid', '=', hostUuid).executeTakeFirstOrThrow()).availableCapacity);
  const psAvailable = async () => Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', lsUuid).executeTakeFirstOrThrow()).availableCapacity);
  const volume = async (size = 10 * GiB) => (await c.call('POST', '/volumes/data', { params: { name: `v-${newUuid().slice(0, 6)}`, diskSize: size, primaryStorageUuid: lsUuid } })).inventory;
  const snap = (volumeUuid: string, name: string) => c.send('POST', `/volumes/${volumeUuid}/volume-snapshots`, { params: { name } });
  const take = async (volumeUuid: string, name: string) => {
    const r = await snap(volumeUuid, name);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.inventory;
  };
  const revert = (uuid: string) => c.send('PUT', `/volume-snapshots/${uuid}/actions`, { revertVolumeFromSnapshot: {} });
  const del = (uuid: string) => c.send('DELETE', `/volume-snapshots/${uuid}`);
  /** name → [parent name, distance, latest, size in GiB] of every snapshot of a volume. */
  async function shape(volumeUuid: string) {
    const all = (await c.call('GET', `/volume-snapshots${qs({ q: `volumeUuid=${volumeUuid}` })}`)).inventories as any[];
    const nameOf = new Map(all.map((s) => [s.uuid, s.name]));
    return Object.fromEntries(all.map((s) => [s.name, [s.parentUuid ? nameOf.get(s.parentUuid) : null, s.distance, s.latest, s.size / GiB]]));
  }
  /** Snapshot refs of a volume's snapshots: uuid → [host, size in GiB]. */
  async function snapshotRefs(volumeUuid: string) {
    const rows = await db().selectFrom('local_storage_resource_ref as r').innerJoin('volume_snapshot as s', 's.uuid', 'r.resourceUuid').select(['r.resourceUuid', 'r.hostUuid', 'r.size', 'r.resourceType']).where('s.volumeUuid', '=', volumeUuid).orderBy('r.resourceUuid').execute();
    return Object.fromEntries(rows.map((r) => [r.resourceUuid, [r.hostUuid, r.resourceType, Number(r.size) / GiB]]));
  }
  /** Everything a failed operation must leave as it was. */
  async function state(volumeUuid: string) {
    return { host: await hostAvailable(), ps: await psAvailable(), shape: await shape(volumeUuid), refs: await snapshotRefs(volumeUuid), rows: await countRows(db(), TABLES), files: simulatedSnapshotFiles(agent()) };
  }

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    const zone = await createZone(c, 'ls-snap-zone');
    const cluster = await createCluster(c, zone.uuid, 'ls-snap-cluster', { hypervisorType: 'Simulator' });
    clusterUuid = cluster.uuid;
    hostUuid = newUuid();
    simulateHostDisk(hostUuid, { totalCapacity: 200 * GiB });
    await c.call('POST', '/hosts/simulators', { params: { name: 'ls-snap-host', managementIp: '10.78.0.1', clusterUuid: cluster.uuid, cpuCapacity: 4, memoryCapacity: 8 * GiB, resourceUuid: hostUuid } });
    lsUuid = (await c.call('POST', '/primary-storage/local-storage', { params: { name: 'ls-snap', url: '/local_snap', zoneUuid: zone.uuid } })).inventory.uuid;
    await c.call('POST', `/clusters/${cluster.uuid}/primary-storage/${lsUuid}`, { params: {} });
  });
  afterEach(() => simulatorFleetOf(t.node.ctx).reset());
  afterAll(async () => {
    clearSimulatedHostDisks();
    await t?.stop();
  });

  it('takes snapshots on the volume\'s host, reverts, and deletes with merges, the host\'s capacity following each step', async () => {
    const v = await volume();
    const start = { host: await hostAvailable(), ps: await psAvailable() };
    expect(start.host).toBe(190 * GiB);

    const s1 = await take(v.uuid, 's1');
    expect(s1).toMatchObject({ volumeUuid: v.uuid, primaryStorageUuid: lsUuid, size: 10 * GiB, type: 'Hypervisor', format: 'qcow2', status: 'Ready', latest: true });
    expect(s1.primaryStorageInstallPath).toBe(`${v.installPath.replace(/\/[^/]*$/, '')}/snapshots/${s1.uuid}.qcow2`);
    const s2 = await take(v.uuid, 's2');
    expect(await hostAvailable()).toBe(start.host - 20 * GiB);
    expect(await psAvailable()).toBe(start.ps - 20 * GiB);
    expect(await snapshotRefs(v.uuid)).toEqual({ [s1.uuid]: [hostUuid, 'VolumeSnapshotVO', 10], [s2.uuid]: [hostUuid, 'VolumeSnapshotVO', 10] });
    expect(simulatedSnapshotFiles(agent())).toMatchObject({ [s1.primaryStorageInstallPath]: null, [s2.primaryStorageInstallPath]: s1.primaryStorageInstallPath });
    expect(agent().count(LocalStorageAgentPaths.takeSnapshot)).toBeGreaterThanOrEqual(2);

    // Reverting changes no capacity; the next snapshot branches off the reverted one.
    expect((await revert(s1.uuid)).status).toBe(200);
    expect(await hostAvailable()).toBe(start.host - 20 * GiB);
    const s3 = await take(v.uuid, 's3');
    expect(await shape(v.uuid)).toEqual({ s1: [null, 0, false, 10], s2: ['s1', 1, false, 10], s3: ['s1', 1, true, 10] });
    expect(await hostAvailable()).toBe(start.host - 30 * GiB);

    // s1 merges into both children: each grows by its size, the second child's growth is new room.
    expect((await del(s1.uuid)).status).toBe(200);
    expect(await shape(v.uuid)).toEqual({ s2: [null, 0, false, 20], s3: [null, 0, true, 20] });
    expect(await snapshotRefs(v.uuid)).toEqual({ [s2.uuid]: [hostUuid, 'VolumeSnapshotVO', 20], [s3.uuid]: [hostUuid, 'VolumeSnapshotVO', 20] });
    expect(await hostAvailable()).toBe(start.host - 40 * GiB);
    expect(await psAvailable()).toBe(start.ps - 40 * GiB);
    const files = simulatedSnapshotFiles(agent());
    expect(files).not.toHaveProperty(s1.primaryStorageInstallPath);
    expect(files).toMatchObject({ [s2.primaryStorageInstallPath]: null, [s3.primaryStorageInstallPath]: null });

    // The latest one merges into the volume: its room goes back.
    expect((await del(s3.uuid)).status).toBe(200);
    expect(agent().count(LocalStorageAgentPaths.mergeSnapshot)).toBeGreaterThanOrEqual(1);
    expect(await hostAvailable()).toBe(start.host - 20 * GiB);
    expect((await del(s2.uuid)).status).toBe(200);
    expect(await shape(v.uuid)).toEqual({});
    expect(await snapshotRefs(v.uuid)).toEqual({});
    expect({ host: await hostAvailable(), ps: await psAvailable() }).toEqual(start);

    // Expunging a volume takes its snapshots' room back too.
    await take(v.uuid, 'kept');
    await c.call('DELETE', `/volumes/${v.uuid}`);
    await c.call('PUT', `/volumes/${v.uuid}/actions`, { expungeDataVolume: {} });
    expect(await hostAvailable()).toBe(200 * GiB);
  });

  it('refuses a snapshot beyond the room of the volume\'s host even when the storage as a whole has it, leaving the host and the tree as they were', async () => {
    // A second, smaller host: the storage has room that the volume's host has not.
    const otherUuid = newUuid();
    simulateHostDisk(otherUuid, { totalCapacity: 50 * GiB });
    await c.call('POST', '/hosts/simulators', { params: { name: 'ls-snap-other', managementIp: '10.78.0.2', clusterUuid, cpuCapacity: 4, memoryCapacity: 8 * GiB, resourceUuid: otherUuid } });
    try {
      const v = await volume(60 * GiB);
      expect((await snapshotRefs(v.uuid))).toEqual({});
      await take(v.uuid, 'big-1');
      await take(v.uuid, 'big-2');
      // 200 - 60 - 2 × 60 = 20 GiB left on the volume's host, 70 GiB on the storage: the host refuses.
      expect(await hostAvailable()).toBe(20 * GiB);
      expect(await psAvailable()).toBe(70 * GiB);
      const before = await state(v.uuid);
      const r = await snap(v.uuid, 'big-3');
      expect(r.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
      expect(r.body.error.details).toContain(`no host of local storage ${lsUuid}`);
      expect(await state(v.uuid)).toEqual(before);
      await c.call('DELETE', `/volumes/${v.uuid}`);
      await c.call('PUT', `/volumes/${v.uuid}/actions`, { expungeDataVolume: {} });
      expect(await hostAvailable()).toBe(200 * GiB);
    } finally {
      await c.call('DELETE', `/hosts/${otherUuid}`);
    }
  });

  it('a failing agent command leaves the host\'s capacity, the tree and the host\'s files exactly as before', async () => {
    const v = await volume();
    const s1 = await take(v.uuid, 's1');
    const s2 = await take(v.uuid, 's2');
    expect((await revert(s1.uuid)).status).toBe(200);
    // s1 is the latest with a child: deleting it merges into s2 (offline merge), then into the volume (merge).
    const before = await state(v.uuid);
    expect(before.shape).toEqual({ s1: [null, 0, true, 10], s2: ['s1', 1, false, 10] });

    const failures: [string, () => Promise<{ status: number; body: any }>][] = [
      [LocalStorageAgentPaths.takeSnapshot, () => snap(v.uuid, 'nope')],
      [LocalStorageAgentPaths.revertSnapshot, () => revert(s2.uuid)],
      [LocalStorageAgentPaths.offlineMergeSnapshot, () => del(s1.uuid)],
      // The merge into s2 succeeded first: it is rebased back and its extra room given back.
      [LocalStorageAgentPaths.mergeSnapshot, () => del(s1.uuid)],
      [LocalStorageAgentPaths.delete, () => del(s1.uuid)],
    ];
    for (const [path, op] of failures) {
      agent().configure(path, { error: `disk on fire at ${path}`, times: 1 });
      const r = await op();
      expect(r.status, path).not.toBe(200);
      expect(r.body.error.code, path).toBe(AgentErrors.COMMAND_FAILED.code);
      expect(JSON.stringify(r.body.error), path).toContain('disk on fire');
      expect(await state(v.uuid), path).toEqual(before);
    }
    expect(agent().count(LocalStorageAgentPaths.rebaseSnapshot)).toBeGreaterThanOrEqual(2);

    // With the agent well again, the same deletion goes through.
    expect((await del(s1.uuid)).status).toBe(200);
    expect(await shape(v.uuid)).toEqual({ s2: [null, 0, false, 20] });
    expect(await hostAvailable()).toBe(before.host);
  });
});
