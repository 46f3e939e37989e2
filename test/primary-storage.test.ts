import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageErrors, PrimaryStorageMessages, type AllocateSpaceReply } from '../src/contracts/primary-storage.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { clearPrimaryStorageFaults, clearSimulatedHostDisks, injectPrimaryStorageFault, simulateHostDisk } from '../src/plugins/simulator-primary-storage/index.ts';
import { countRows, createCluster, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const TABLES = ['primary_storage', 'primary_storage_cluster_ref', 'simulator_primary_storage', 'user_tag'];

describe.each(testDatabaseKinds())('primary storage through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  let ipSeq = 0;
  const db = () => t.node.ctx.db;
  const bus = () => t.node.ctx.bus;
  const psRow = (uuid: string) => db().selectFrom('primary_storage').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  const available = async (uuid: string) => Number((await psRow(uuid))!.availableCapacity);

  const addSim = async (name: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    (await c.call('POST', '/primary-storage/simulators', { params: { name, url: `/sim/${name}`, zoneUuid, totalCapacity: 100 * GiB, availableCapacity: 80 * GiB, ...extra }, ...top })).inventory;
  const addHost = async (name: string, clusterUuid: string, disk?: number) => {
    const uuid = newUuid();
    if (disk) simulateHostDisk(uuid, { totalCapacity: disk, availableCapacity: disk - GiB });
    return (await c.call('POST', '/hosts/simulators', { params: { name, managementIp: `10.77.0.${++ipSeq}`, clusterUuid, cpuCapacity: 4, memoryCapacity: 8 * GiB, resourceUuid: uuid } })).inventory;
  };

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    zoneUuid = (await createZone(c, 'ps-zone')).uuid;
  });
  afterAll(async () => {
    clearPrimaryStorageFaults();
    clearSimulatedHostDisks();
    await t?.stop();
  });

  it('adds a simulated primary storage: Connected, with every capacity field of ZStack\'s inventory', async () => {
    const ps = await addSim('ps-add', { description: 'sim', totalPhysicalCapacity: 100 * GiB, availablePhysicalCapacity: 70 * GiB }, { userTags: ['fast'] });
    expect(ps).toMatchObject({ name: 'ps-add', description: 'sim', url: '/sim/ps-add', zoneUuid, type: 'SimulatorPrimaryStorage', state: 'Enabled', status: 'Connected', totalCapacity: 100 * GiB, availableCapacity: 80 * GiB, totalPhysicalCapacity: 100 * GiB, availablePhysicalCapacity: 70 * GiB, systemUsedCapacity: 20 * GiB, attachedClusterUuids: [] });
    expect(ps).not.toHaveProperty('allocatedCapacity');
    const q = await c.call('GET', `/primary-storage${qs({ q: ['zone.name=ps-zone', 'name=ps-add'] })}`);
    expect(q.inventories.map((x: any) => x.uuid)).toEqual([ps.uuid]);
    expect((await db().selectFrom('user_tag').select('tag').where('resourceUuid', '=', ps.uuid).execute()).map((r) => r.tag)).toEqual(['fast']);
  });

  it('rolls an add back when the storage cannot be connected; refuses an unknown zone and available > total; writes nothing', async () => {
    const before = await countRows(db(), TABLES);
    const uuid = newUuid();
    injectPrimaryStorageFault(uuid, 'connect', { times: 1 });
    const r = await c.send('POST', '/primary-storage/simulators', { params: { name: 'ps-unreachable', url: '/sim/x', zoneUuid, resourceUuid: uuid }, userTags: ['t'] });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('injected connect failure');
    const noZone = await c.send('POST', '/primary-storage/local-storage', { params: { name: 'ls', url: '/local', zoneUuid: newUuid() } });
    expect(noZone.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    const bad = await c.send('POST', '/primary-storage/simulators', { params: { name: 'ps-bad', url: '/sim/y', zoneUuid, totalCapacity: GiB, availableCapacity: 2 * GiB } });
    expect(bad.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(await countRows(db(), TABLES)).toEqual(before);
  });

  it('attaches to and detaches from clusters of its zone; nested queries reach the clusters', async () => {
    const c1 = await createCluster(c, zoneUuid, 'ps-cluster-1');
    const c2 = await createCluster(c, zoneUuid, 'ps-cluster-2');
    const otherZone = await createZone(c, 'ps-other-zone');
    const foreign = await createCluster(c, otherZone.uuid, 'ps-foreign');
    const ps = await addSim('ps-attach');
    expect((await c.call('POST', `/clusters/${c1.uuid}/primary-storage/${ps.uuid}`, { params: {} })).inventory.attachedClusterUuids).toEqual([c1.uuid]);
    expect((await c.call('POST', `/clusters/${c2.uuid}/primary-storage/${ps.uuid}`, { params: {} })).inventory.attachedClusterUuids.sort()).toEqual([c1.uuid, c2.uuid].sort());
    const twice = await c.send('POST', `/clusters/${c1.uuid}/primary-storage/${ps.uuid}`, { params: {} });
    expect(twice.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    const wrongZone = await c.send('POST', `/clusters/${foreign.uuid}/primary-storage/${ps.uuid}`, { params: {} });
    expect(wrongZone.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    const byCluster = await c.call('GET', `/primary-storage${qs({ q: 'attachedClusterRefs.cluster.name=ps-cluster-2' })}`);
    expect(byCluster.inventories.map((x: any) => x.uuid)).toEqual([ps.uuid]);

    expect((await c.call('DELETE', `/clusters/${c1.uuid}/primary-storage/${ps.uuid}`)).inventory.attachedClusterUuids).toEqual([c2.uuid]);
    const notAttached = await c.send('DELETE', `/clusters/${c1.uuid}/primary-storage/${ps.uuid}`);
    expect(notAttached.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    // Deleting a cluster detaches the storage and keeps it.
    await c.call('DELETE', `/clusters/${c2.uuid}`);
    expect((await c.call('GET', `/primary-storage/${ps.uuid}`)).inventories[0].uuid).toBe(ps.uuid);
    expect(await db().selectFrom('primary_storage_cluster_ref').select('id').where('primaryStorageUuid', '=', ps.uuid).execute()).toEqual([]);
  });

  it('updates, changes state, reconnects (Disconnected on failure, Connected again after)', async () => {
    const ps = await addSim('ps-ops');
    const u = await c.call('PUT', `/primary-storage/${ps.uuid}/actions`, { updatePrimaryStorage: { name: 'ps-renamed', description: 'd2' } });
    expect(u.inventory).toMatchObject({ name: 'ps-renamed', description: 'd2' });
    expect((await c.call('PUT', `/primary-storage/${ps.uuid}/actions`, { changePrimaryStorageState: { stateEvent: 'maintain' } })).inventory.state).toBe('Maintenance');
    expect((await c.call('PUT', `/primary-storage/${ps.uuid}/actions`, { changePrimaryStorageState: { stateEvent: 'disable' } })).inventory.state).toBe('Disabled');
    expect((await c.call('PUT', `/primary-storage/${ps.uuid}/actions`, { changePrimaryStorageState: { stateEvent: 'enable' } })).inventory.state).toBe('Enabled');
    injectPrimaryStorageFault(ps.uuid, 'connect', { times: 1 });
    const failed = await c.send('PUT', `/primary-storage/${ps.uuid}/actions`, { reconnectPrimaryStorage: {} });
    expect(failed.status).toBe(503);
    expect((await psRow(ps.uuid))!.status).toBe('Disconnected');
    expect((await c.call('PUT', `/primary-storage/${ps.uuid}/actions`, { reconnectPrimaryStorage: {} })).inventory.status).toBe('Connected');
  });

  it('allocates space by conditional update: 50 concurrent allocations never overcommit, releases are exact', async () => {
    const ps = await addSim('ps-race', { totalCapacity: 20 * GiB, availableCapacity: 20 * GiB });
    const results = await Promise.all(Array.from({ length: 50 }, () => bus().send<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: GiB, primaryStorageUuid: ps.uuid })));
    const ok = results.filter((r) => r.success);
    expect(ok.length).toBe(20);
    expect(results.filter((r) => !r.success).every((r) => !r.success && r.error.code === PrimaryStorageErrors.INSUFFICIENT_CAPACITY.code)).toBe(true);
    expect(await available(ps.uuid)).toBe(0);
    await Promise.all(ok.map((r) => bus().call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: ps.uuid, charged: r.success ? r.value.charged : 0 })));
    expect(await available(ps.uuid)).toBe(20 * GiB);
  });

  it('chooses a storage attached to the cluster with room, and charges through mevoco.overProvisioning.primaryStorage', async () => {
    const cluster = await createCluster(c, zoneUuid, 'ps-alloc-cluster');
    const small = await addSim('ps-small', { totalCapacity: 10 * GiB, availableCapacity: 10 * GiB });
    const big = await addSim('ps-big', { totalCapacity: 50 * GiB, availableCapacity: 50 * GiB });
    const unattached = await addSim('ps-unattached', { totalCapacity: 500 * GiB, availableCapacity: 500 * GiB });
    for (const ps of [small, big]) await c.call('POST', `/clusters/${cluster.uuid}/primary-storage/${ps.uuid}`, { params: {} });
    const first = await bus().call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: 8 * GiB, clusterUuid: cluster.uuid });
    expect(first.primaryStorageUuid).toBe(big.uuid);
    const none = await bus().send(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: 60 * GiB, clusterUuid: cluster.uuid });
    expect(!none.success && none.error.code).toBe(PrimaryStorageErrors.INSUFFICIENT_CAPACITY.code);
    expect(await available(unattached.uuid)).toBe(500 * GiB);

    await c.call('PUT', '/global-configurations/mevoco/overProvisioning.primaryStorage/actions', { updateGlobalConfig: { value: '2' } });
    try {
      const r = await bus().call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: 16 * GiB, primaryStorageUuid: small.uuid });
      expect(r.charged).toBe(8 * GiB);
      expect(await available(small.uuid)).toBe(2 * GiB);
    } finally {
      await c.call('PUT', '/global-configurations/mevoco/overProvisioning.primaryStorage/actions', { updateGlobalConfig: { value: '1' } });
    }
  });

  it('local storage: per-host rows from the hosts\' disks when attached and when hosts connect, detach and host deletion take them away', async () => {
    const zone = await createZone(c, 'ls-zone');
    const cluster = await createCluster(c, zone.uuid, 'ls-cluster', { hypervisorType: 'Simulator' });
    const h1 = await addHost('ls-h1', cluster.uuid, 100 * GiB);
    const ls = (await c.call('POST', '/primary-storage/local-storage', { params: { name: 'ls', url: '/local_ps', zoneUuid: zone.uuid } })).inventory;
    expect(ls).toMatchObject({ type: 'LocalStorage', status: 'Connected', totalCapacity: 0, availableCapacity: 0 });
    const attached = (await c.call('POST', `/clusters/${cluster.uuid}/primary-storage/${ls.uuid}`, { params: {} })).inventory;
    expect(attached).toMatchObject({ totalCapacity: 100 * GiB, availableCapacity: 99 * GiB, totalPhysicalCapacity: 100 * GiB, availablePhysicalCapacity: 99 * GiB });
    const h2 = await addHost('ls-h2', cluster.uuid, 50 * GiB);
    expect(await psRow(ls.uuid)).toMatchObject({ totalCapacity: 150 * GiB, availableCapacity: 148 * GiB });
    const refs = await db().selectFrom('local_storage_host_ref').select(['hostUuid', 'totalCapacity']).where('primaryStorageUuid', '=', ls.uuid).orderBy('totalCapacity').execute();
    expect(refs.map((r) => [r.hostUuid, Number(r.totalCapacity)])).toEqual([[h2.uuid, 50 * GiB], [h1.uuid, 100 * GiB]]);

    // A volume lands on the host with most room; its host ref and the storage both account for it.
    const vol = (await c.call('POST', '/volumes/data', { params: { name: 'ls-vol', diskSize: 10 * GiB, primaryStorageUuid: ls.uuid } })).inventory;
    expect(vol).toMatchObject({ status: 'Ready', primaryStorageUuid: ls.uuid });
    expect(Number((await db().selectFrom('local_storage_host_ref').select('availableCapacity').where('hostUuid', '=', h1.uuid).executeTakeFirst())!.availableCapacity)).toBe(89 * GiB);
    expect(await available(ls.uuid)).toBe(138 * GiB);
    await c.call('DELETE', `/volumes/${vol.uuid}`);
    await c.call('PUT', `/volumes/${vol.uuid}/actions`, { expungeDataVolume: {} });
    expect(Number((await db().selectFrom('local_storage_host_ref').select('availableCapacity').where('hostUuid', '=', h1.uuid).executeTakeFirst())!.availableCapacity)).toBe(99 * GiB);

    await c.call('DELETE', `/hosts/${h2.uuid}`);
    expect(await psRow(ls.uuid)).toMatchObject({ totalCapacity: 100 * GiB, availableCapacity: 99 * GiB });
    await c.call('DELETE', `/clusters/${cluster.uuid}/primary-storage/${ls.uuid}`);
    expect(await psRow(ls.uuid)).toMatchObject({ totalCapacity: 0, availableCapacity: 0 });
    expect(await db().selectFrom('local_storage_host_ref').select('hostUuid').where('primaryStorageUuid', '=', ls.uuid).execute()).toEqual([]);
  });

  it('caches an image on first use and reuses the cache', async () => {
    const bs = (await c.call('POST', '/backup-storage/simulators', { params: { name: 'ps-bs', url: '/sim/ps-bs' } })).inventory;
    await c.call('POST', `/zones/${zoneUuid}/backup-storage/${bs.uuid}`, { params: {} });
    const image = (await c.call('POST', '/images', { params: { name: 'ps-image', url: `http://images.example/a.qcow2?size=${2 * GiB}`, format: 'qcow2', backupStorageUuids: [bs.uuid] } })).inventory;
    const ps = await addSim('ps-cache', { totalCapacity: 20 * GiB, availableCapacity: 20 * GiB });
    const make = () => bus().call<{ installPath: string }>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.instantiateVolume, { primaryStorageUuid: ps.uuid, volumeUuid: newUuid(), size: 4 * GiB, imageUuid: image.uuid });
    await Promise.all([make(), make(), make()]);
    const caches = await c.call('GET', `/primary-storage/imagecache${qs({ q: `primaryStorageUuid=${ps.uuid}` })}`);
    expect(caches.inventories).toHaveLength(1);
    expect(caches.inventories[0]).toMatchObject({ imageUuid: image.uuid, size: 2 * GiB, installUrl: expect.stringContaining(image.uuid) });
    expect(await available(ps.uuid)).toBe(18 * GiB);
    expect((await c.call('GET', `/primary-storage${qs({ q: `imageCaches.imageUuid=${image.uuid}` })}`)).inventories.map((x: any) => x.uuid)).toEqual([ps.uuid]);
  });

  it('deletes a storage with its volumes, and every storage of a deleted zone', async () => {
    const ps = await addSim('ps-delete');
    const vol = (await c.call('POST', '/volumes/data', { params: { name: 'doomed', diskSize: GiB, primaryStorageUuid: ps.uuid } })).inventory;
    await c.call('DELETE', `/primary-storage/${ps.uuid}`);
    expect(await psRow(ps.uuid)).toBeUndefined();
    expect(await db().selectFrom('volume').select('uuid').where('uuid', '=', vol.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('simulator_primary_storage').select('uuid').where('uuid', '=', ps.uuid).execute()).toEqual([]);
    expect((await c.send('DELETE', `/primary-storage/${ps.uuid}`)).status).toBe(200);

    const zone = await createZone(c, 'ps-cascade-zone');
    const cluster = await createCluster(c, zone.uuid, 'ps-cascade-cluster');
    const a = (await c.call('POST', '/primary-storage/simulators', { params: { name: 'cascade-a', url: '/sim/ca', zoneUuid: zone.uuid } })).inventory;
    const b = (await c.call('POST', '/primary-storage/local-storage', { params: { name: 'cascade-b', url: '/local', zoneUuid: zone.uuid } })).inventory;
    await c.call('POST', `/clusters/${cluster.uuid}/primary-storage/${a.uuid}`, { params: {} });
    const v = (await c.call('POST', '/volumes/data', { params: { name: 'cascade-vol', diskSize: GiB, primaryStorageUuid: a.uuid } })).inventory;
    await c.call('DELETE', `/zones/${zone.uuid}`);
    expect(await db().selectFrom('primary_storage').select('uuid').where('uuid', 'in', [a.uuid, b.uuid]).execute()).toEqual([]);
    expect(await db().selectFrom('primary_storage_cluster_ref').select('id').where('primaryStorageUuid', 'in', [a.uuid, b.uuid]).execute()).toEqual([]);
    expect(await db().selectFrom('volume').select('uuid').where('uuid', '=', v.uuid).execute()).toEqual([]);
  });
});
