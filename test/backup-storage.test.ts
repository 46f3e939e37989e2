import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupStorageTypePoint } from '../src/contracts/backup-storage.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { clearBackupStorageFaults, injectBackupStorageFault } from '../src/plugins/simulator-backup-storage/index.ts';
import { countRows, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const TABLES = ['backup_storage', 'backup_storage_zone_ref', 'simulator_backup_storage', 'user_tag'];

describe.each(testDatabaseKinds())('backup storage through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const db = () => t.node.ctx.db;

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
  });
  afterAll(async () => {
    clearBackupStorageFaults();
    await t?.stop();
  });

  const addSim = async (name: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    (await c.call('POST', '/backup-storage/simulators', { params: { name, url: `/sim/${name}`, totalCapacity: 100 * GiB, availableCapacity: 80 * GiB, ...extra }, ...top })).inventory;

  it('adds a simulated backup storage: Connected, with the capacity given, no zones yet', async () => {
    const bs = await addSim('bs-add', { description: 'sim' }, { userTags: ['fast'] });
    expect(bs).toMatchObject({ name: 'bs-add', description: 'sim', url: '/sim/bs-add', type: 'SimulatorBackupStorage', state: 'Enabled', status: 'Connected', totalCapacity: 100 * GiB, availableCapacity: 80 * GiB, attachedZoneUuids: [] });
    const q = await c.call('GET', `/backup-storage/${bs.uuid}`);
    expect(q.inventories[0]).toMatchObject({ uuid: bs.uuid, status: 'Connected', totalCapacity: 100 * GiB });
    expect((await db().selectFrom('user_tag').select('tag').where('resourceUuid', '=', bs.uuid).execute()).map((r) => r.tag)).toEqual(['fast']);
  });

  it('rolls an image store back when its host cannot be reached over SSH (KVM.1002) and writes nothing', async () => {
    // Image stores deployed for real are in test/system/image-store.test.ts; here only the rollback of a failed add.
    expect(t.node.ctx.extensions.findStrategy(BackupStorageTypePoint, 'ImageStoreBackupStorage')).toBeDefined();
    const before = await countRows(db(), [...TABLES, 'image_store_backup_storage']);
    const r = await c.send('POST', '/backup-storage/image-store', { params: { name: 'is', url: '/zstack_bs', hostname: '127.0.0.1', username: 'root', password: 'secret', sshPort: 1 } });
    expect(r.status).toBe(503);
    expect(JSON.stringify(r.body.error)).toContain('KVM.1002');
    expect(await countRows(db(), [...TABLES, 'image_store_backup_storage'])).toEqual(before);
  });

  it('rolls the add back when the storage cannot be connected, and refuses available > total', async () => {
    const before = await countRows(db(), TABLES);
    const uuid = newUuid();
    injectBackupStorageFault(uuid, 'connect', { times: 1 });
    const r = await c.send('POST', '/backup-storage/simulators', { params: { name: 'bs-unreachable', url: '/sim/x', resourceUuid: uuid }, userTags: ['t'] });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('injected connect failure');
    const bad = await c.send('POST', '/backup-storage/simulators', { params: { name: 'bs-bad', url: '/sim/y', totalCapacity: GiB, availableCapacity: 2 * GiB } });
    expect(bad.status).toBe(503);
    expect(bad.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(await countRows(db(), TABLES)).toEqual(before);
  });

  it('attaches to and detaches from zones; nested queries reach the zones', async () => {
    const z1 = await createZone(c, 'bs-zone-1');
    const z2 = await createZone(c, 'bs-zone-2');
    const bs = await addSim('bs-attach');
    const a1 = await c.call('POST', `/zones/${z1.uuid}/backup-storage/${bs.uuid}`, { params: {} });
    expect(a1.inventory.attachedZoneUuids).toEqual([z1.uuid]);
    const a2 = await c.call('POST', `/zones/${z2.uuid}/backup-storage/${bs.uuid}`, { params: {} });
    expect(a2.inventory.attachedZoneUuids.sort()).toEqual([z1.uuid, z2.uuid].sort());
    const twice = await c.send('POST', `/zones/${z1.uuid}/backup-storage/${bs.uuid}`, { params: {} });
    expect(twice.status).toBe(503);
    expect(twice.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    const noZone = await c.send('POST', `/zones/${newUuid()}/backup-storage/${bs.uuid}`, { params: {} });
    expect(noZone.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);

    const byZone = await c.call('GET', `/backup-storage${qs({ q: `attachedZoneRefs.zoneUuid=${z2.uuid}` })}`);
    expect(byZone.inventories.map((x: any) => x.uuid)).toEqual([bs.uuid]);
    const byZoneName = await c.call('GET', `/backup-storage${qs({ q: 'attachedZoneRefs.zone.name=bs-zone-1' })}`);
    expect(byZoneName.inventories.map((x: any) => x.uuid)).toEqual([bs.uuid]);

    const d = await c.call('DELETE', `/zones/${z1.uuid}/backup-storage/${bs.uuid}`);
    expect(d.inventory.attachedZoneUuids).toEqual([z2.uuid]);
    const notAttached = await c.send('DELETE', `/zones/${z1.uuid}/backup-storage/${bs.uuid}`);
    expect(notAttached.status).toBe(503);

    // Deleting a zone detaches its storages and keeps them.
    await c.call('DELETE', `/zones/${z2.uuid}`);
    const after = await c.call('GET', `/backup-storage/${bs.uuid}`);
    expect(after.inventories).toHaveLength(1);
    expect(await db().selectFrom('backup_storage_zone_ref').select('id').where('backupStorageUuid', '=', bs.uuid).execute()).toEqual([]);
  });

  it('updates, disables, enables and reconnects; a failed reconnect leaves it Disconnected', async () => {
    const bs = await addSim('bs-state');
    const upd = await c.call('PUT', `/backup-storage/${bs.uuid}/actions`, { updateBackupStorage: { name: 'bs-state-2', description: 'renamed' } });
    expect(upd.inventory).toMatchObject({ name: 'bs-state-2', description: 'renamed', url: '/sim/bs-state' });
    expect((await c.call('PUT', `/backup-storage/${bs.uuid}/actions`, { changeBackupStorageState: { stateEvent: 'disable' } })).inventory.state).toBe('Disabled');
    expect((await c.call('PUT', `/backup-storage/${bs.uuid}/actions`, { changeBackupStorageState: { stateEvent: 'enable' } })).inventory.state).toBe('Enabled');
    injectBackupStorageFault(bs.uuid, 'connect', { times: 1 });
    const failed = await c.send('PUT', `/backup-storage/${bs.uuid}/actions`, { reconnectBackupStorage: {} });
    expect(failed.status).toBe(503);
    expect((await c.call('GET', `/backup-storage/${bs.uuid}`)).inventories[0].status).toBe('Disconnected');
    const ok = await c.call('PUT', `/backup-storage/${bs.uuid}/actions`, { reconnectBackupStorage: {} });
    expect(ok.inventory).toMatchObject({ status: 'Connected', availableCapacity: 80 * GiB });
  });

  it('deletes a backup storage with its zone attachments, tags and simulator state; a repeat succeeds', async () => {
    const z = await createZone(c, 'bs-del-zone');
    const bs = await addSim('bs-del', {}, { userTags: ['bye'] });
    await c.call('POST', `/zones/${z.uuid}/backup-storage/${bs.uuid}`, { params: {} });
    await c.call('DELETE', `/backup-storage/${bs.uuid}`);
    expect((await c.call('GET', `/backup-storage/${bs.uuid}`)).inventories).toEqual([]);
    expect(await db().selectFrom('backup_storage_zone_ref').select('id').where('backupStorageUuid', '=', bs.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('simulator_backup_storage').select('uuid').where('uuid', '=', bs.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('user_tag').select('uuid').where('resourceUuid', '=', bs.uuid).execute()).toEqual([]);
    expect((await c.send('DELETE', `/backup-storage/${bs.uuid}`)).status).toBe(200);
    expect((await c.call('GET', `/zones/${z.uuid}`)).inventories).toHaveLength(1);
  });
});
