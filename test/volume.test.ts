import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrimaryStorageErrors } from '../src/contracts/primary-storage.ts';
import { VOLUME_SERVICE, VolumeMessages } from '../src/contracts/volume.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { clearPrimaryStorageFaults, injectPrimaryStorageFault } from '../src/plugins/simulator-primary-storage/index.ts';
import { countRows, createCluster, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;

describe.each(testDatabaseKinds())('data volumes through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  const db = () => t.node.ctx.db;
  const available = async (uuid: string) => Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', uuid).executeTakeFirstOrThrow()).availableCapacity);
  const addPs = async (name: string, capacity = 100 * GiB) => (await c.call('POST', '/primary-storage/simulators', { params: { name, url: `/sim/${name}`, zoneUuid, totalCapacity: capacity, availableCapacity: capacity } })).inventory;
  const create = (params: Record<string, unknown>, top: Record<string, unknown> = {}) => c.send('POST', '/volumes/data', { params, ...top });
  const action = (uuid: string, body: unknown) => c.send('PUT', `/volumes/${uuid}/actions`, body);
  const setPolicy = (value: string) => c.call('PUT', '/global-configurations/volume/deletionPolicy/actions', { updateGlobalConfig: { value } });

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    zoneUuid = (await createZone(c, 'vol-zone')).uuid;
  });
  afterAll(async () => {
    clearPrimaryStorageFaults();
    await t?.stop();
  });

  it('creates a data volume from a disk offering or a size: NotInstantiated without a primary storage, Ready on the one named', async () => {
    const offering = (await c.call('POST', '/disk-offerings', { params: { name: 'do-5g', diskSize: 5 * GiB } })).inventory;
    const v1 = (await create({ name: 'v1', description: 'from offering', diskOfferingUuid: offering.uuid }, { userTags: ['blue'] })).body.inventory;
    expect(v1).toMatchObject({ name: 'v1', description: 'from offering', type: 'Data', size: 5 * GiB, diskOfferingUuid: offering.uuid, state: 'Enabled', status: 'NotInstantiated', primaryStorageUuid: null, installPath: null, vmInstanceUuid: null, isShareable: false });
    expect(v1).not.toHaveProperty('charged');
    const ps = await addPs('vol-ps');
    const v2 = (await create({ name: 'v2', diskSize: 3 * GiB, primaryStorageUuid: ps.uuid })).body.inventory;
    expect(v2).toMatchObject({ size: 3 * GiB, status: 'Ready', primaryStorageUuid: ps.uuid, format: 'qcow2', installPath: expect.stringContaining(v2.uuid) });
    expect(await available(ps.uuid)).toBe(97 * GiB);

    const q = await c.call('GET', `/volumes${qs({ q: ['primaryStorage.name=vol-ps', 'type=Data'] })}`);
    expect(q.inventories.map((x: any) => x.uuid)).toEqual([v2.uuid]);
    expect((await c.call('GET', `/volumes${qs({ q: 'diskOffering.name=do-5g' })}`)).inventories.map((x: any) => x.uuid)).toEqual([v1.uuid]);

    const noSize = await create({ name: 'v3' });
    expect(noSize.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    const noOffering = await create({ name: 'v4', diskOfferingUuid: newUuid() });
    expect(noOffering.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });

  it('a failure injected in the storage while instantiating leaves its capacity unchanged and no volume row', async () => {
    const ps = await addPs('vol-fail', 10 * GiB);
    const before = await countRows(db(), ['volume', 'user_tag', 'simulator_primary_storage_volume']);
    injectPrimaryStorageFault(ps.uuid, 'createVolume', { times: 1 });
    const r = await create({ name: 'never', diskSize: 2 * GiB, primaryStorageUuid: ps.uuid }, { userTags: ['t'] });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('injected createVolume failure');
    expect(await available(ps.uuid)).toBe(10 * GiB);
    expect(await countRows(db(), ['volume', 'user_tag', 'simulator_primary_storage_volume'])).toEqual(before);
    const tooBig = await create({ name: 'huge', diskSize: 11 * GiB, primaryStorageUuid: ps.uuid });
    expect(tooBig.body.error.code).toBe(PrimaryStorageErrors.INSUFFICIENT_CAPACITY.code);
    expect(await countRows(db(), ['volume', 'user_tag', 'simulator_primary_storage_volume'])).toEqual(before);
  });

  it('accounts capacity exactly through create, resize (refused beyond the room, rolled back on failure), delete and expunge', async () => {
    const ps = await addPs('vol-exact', 20 * GiB);
    const v = (await create({ name: 'grow', diskSize: 4 * GiB, primaryStorageUuid: ps.uuid })).body.inventory;
    expect(await available(ps.uuid)).toBe(16 * GiB);
    const grown = await c.call('PUT', `/volumes/data/resize/${v.uuid}/actions`, { resizeDataVolume: { size: 10 * GiB } });
    expect(grown.inventory.size).toBe(10 * GiB);
    expect(await available(ps.uuid)).toBe(10 * GiB);
    const shrink = await c.send('PUT', `/volumes/data/resize/${v.uuid}/actions`, { resizeDataVolume: { size: GiB } });
    expect(shrink.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    const beyond = await c.send('PUT', `/volumes/data/resize/${v.uuid}/actions`, { resizeDataVolume: { size: 30 * GiB } });
    expect(beyond.body.error.code).toBe(PrimaryStorageErrors.INSUFFICIENT_CAPACITY.code);
    injectPrimaryStorageFault(ps.uuid, 'resizeVolume', { times: 1 });
    const failing = await c.send('PUT', `/volumes/data/resize/${v.uuid}/actions`, { resizeDataVolume: { size: 12 * GiB } });
    expect(failing.status).toBe(503);
    expect(await available(ps.uuid)).toBe(10 * GiB);
    expect((await c.call('GET', `/volumes/${v.uuid}`)).inventories[0].size).toBe(10 * GiB);

    // Delay (the default): Deleted and recoverable, capacity still held until expunged.
    expect((await c.send('DELETE', `/volumes/${v.uuid}`)).status).toBe(200);
    expect((await c.call('GET', `/volumes/${v.uuid}`)).inventories[0].status).toBe('Deleted');
    expect(await available(ps.uuid)).toBe(10 * GiB);
    expect((await action(v.uuid, { recoverDataVolume: {} })).body.inventory.status).toBe('Ready');
    const notDeleted = await action(v.uuid, { expungeDataVolume: {} });
    expect(notDeleted.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    await c.call('DELETE', `/volumes/${v.uuid}`);
    expect((await action(v.uuid, { expungeDataVolume: {} })).status).toBe(200);
    expect(await available(ps.uuid)).toBe(20 * GiB);
    expect(await db().selectFrom('volume').select('uuid').where('uuid', '=', v.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('simulator_primary_storage_volume').select('volumeUuid').where('volumeUuid', '=', v.uuid).execute()).toEqual([]);

    // Direct: gone at once with its capacity.
    const d = (await create({ name: 'direct', diskSize: 5 * GiB, primaryStorageUuid: ps.uuid })).body.inventory;
    await setPolicy('Direct');
    try {
      await c.call('DELETE', `/volumes/${d.uuid}`);
    } finally {
      await setPolicy('Delay');
    }
    expect(await db().selectFrom('volume').select('uuid').where('uuid', '=', d.uuid).execute()).toEqual([]);
    expect(await available(ps.uuid)).toBe(20 * GiB);
  });

  it('50 concurrent creates on one storage never overcommit it', async () => {
    const ps = await addPs('vol-race', 20 * GiB);
    const results = await Promise.all(Array.from({ length: 50 }, (_v, i) => create({ name: `race-${i}`, diskSize: GiB, primaryStorageUuid: ps.uuid })));
    expect(results.filter((r) => r.status === 200).length).toBe(20);
    expect(results.filter((r) => r.status !== 200).every((r) => r.body.error.code === PrimaryStorageErrors.INSUFFICIENT_CAPACITY.code)).toBe(true);
    expect(await available(ps.uuid)).toBe(0);
    expect(Number((await db().selectFrom('volume').select((eb) => eb.fn.countAll().as('n')).where('primaryStorageUuid', '=', ps.uuid).executeTakeFirstOrThrow()).n)).toBe(20);
  });

  it('updates, changes state, grows a NotInstantiated volume, and instantiates it on a storage of a cluster later', async () => {
    const v = (await create({ name: 'later', diskSize: GiB })).body.inventory;
    expect((await action(v.uuid, { updateVolume: { name: 'renamed', description: 'dd' } })).body.inventory).toMatchObject({ name: 'renamed', description: 'dd' });
    expect((await action(v.uuid, { changeVolumeState: { stateEvent: 'disable' } })).body.inventory.state).toBe('Disabled');
    expect((await action(v.uuid, { changeVolumeState: { stateEvent: 'enable' } })).body.inventory.state).toBe('Enabled');
    expect((await c.call('PUT', `/volumes/data/resize/${v.uuid}/actions`, { resizeDataVolume: { size: 2 * GiB } })).inventory).toMatchObject({ size: 2 * GiB, status: 'NotInstantiated' });

    const cluster = await createCluster(c, zoneUuid, 'vol-cluster');
    const ps = await addPs('vol-cluster-ps', 10 * GiB);
    await c.call('POST', `/clusters/${cluster.uuid}/primary-storage/${ps.uuid}`, { params: {} });
    const ready = await t.node.ctx.bus.call<any>(VOLUME_SERVICE, VolumeMessages.instantiate, { uuid: v.uuid, clusterUuid: cluster.uuid }, { resourceUuid: v.uuid });
    expect(ready).toMatchObject({ status: 'Ready', primaryStorageUuid: ps.uuid });
    expect(await available(ps.uuid)).toBe(8 * GiB);
  });

  it('deleting a disk offering leaves its volumes with no offering', async () => {
    const offering = (await c.call('POST', '/disk-offerings', { params: { name: 'do-gone', diskSize: GiB } })).inventory;
    const v = (await create({ name: 'orphan', diskOfferingUuid: offering.uuid })).body.inventory;
    await c.call('DELETE', `/disk-offerings/${offering.uuid}`);
    expect((await c.call('GET', `/volumes/${v.uuid}`)).inventories[0].diskOfferingUuid).toBeNull();
  });
});
