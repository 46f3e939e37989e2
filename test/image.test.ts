import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterImageAdded, type AddImageCtx } from '../src/contracts/image.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { StratoError, SysErrors } from '../src/core/errors/index.ts';
import { noRollback, type FlowStep } from '../src/core/flow/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { clearBackupStorageFaults, injectBackupStorageFault } from '../src/plugins/simulator-backup-storage/index.ts';
import { countRows, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const MiB = 1024 ** 2;
const TABLES = ['image', 'image_backup_storage_ref', 'simulator_backup_storage_image', 'user_tag'];
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Fails every image named `fail-after-ready…` after its downloads succeeded: the copies must be deleted again. */
const failingPlugin: ServiceModule = {
  id: 'test.image-plugin',
  setup(ctx) {
    const step: FlowStep<AddImageCtx> = {
      name: 'test.fail-after-ready',
      run(c) {
        if (c.name.startsWith('fail-after-ready')) throw new StratoError(SysErrors.OPERATION_ERROR, `refusing image ${c.name}`);
      },
      rollback: noRollback,
    };
    ctx.flows.insert(AfterImageAdded, step);
  },
};

describe.each(testDatabaseKinds())('images through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let dir: string;
  let raw: { url: string; bytes: Buffer };
  let qcow2: { url: string; bytes: Buffer; virtualSize: number };
  const db = () => t.node.ctx.db;

  const addSim = async (name: string, totalCapacity = 100 * MiB) => (await c.call('POST', '/backup-storage/simulators', { params: { name, url: `/sim/${name}`, totalCapacity } })).inventory;
  const bsRow = async (uuid: string) => (await c.call('GET', `/backup-storage/${uuid}`)).inventories[0];
  const addImage = (params: Record<string, unknown>, top: Record<string, unknown> = {}) => c.send('POST', '/images', { params: { name: 'img', url: raw.url, format: 'raw', ...params }, ...top });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strato-image-'));
    const rawBytes = randomBytes(3 * MiB + 17);
    writeFileSync(join(dir, 'disk.raw'), rawBytes);
    raw = { url: pathToFileURL(join(dir, 'disk.raw')).href, bytes: rawBytes };
    // A qcow2 header: magic QFI\xfb, version 3, and a 10 GiB virtual size at byte 24.
    const q = Buffer.alloc(64 * 1024);
    q.writeUInt32BE(0x514649fb, 0);
    q.writeUInt32BE(3, 4);
    q.writeBigUInt64BE(10n * 1024n ** 3n, 24);
    writeFileSync(join(dir, 'disk.qcow2'), q);
    qcow2 = { url: pathToFileURL(join(dir, 'disk.qcow2')).href, bytes: q, virtualSize: 10 * 1024 ** 3 };
    t = await startTestNode(kind, { modules: [failingPlugin] });
    c = await t.login();
  });
  afterAll(async () => {
    clearBackupStorageFaults();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds an image from a file:// URL: Ready, with the md5 and size of the file, on each backup storage', async () => {
    const bs1 = await addSim('img-bs-1');
    const bs2 = await addSim('img-bs-2');
    const r = await addImage({ name: 'centos', description: 'd', mediaType: 'RootVolumeTemplate', platform: 'Linux', guestOsType: 'CentOS 7', architecture: 'x86_64', backupStorageUuids: [bs1.uuid, bs2.uuid] }, { userTags: ['golden'] });
    expect(r.status, r.text).toBe(200);
    const img = r.body.inventory;
    expect(img).toMatchObject({ name: 'centos', status: 'Ready', state: 'Enabled', md5Sum: md5(raw.bytes), size: raw.bytes.length, actualSize: raw.bytes.length, format: 'raw', mediaType: 'RootVolumeTemplate', platform: 'Linux', system: false, virtio: true, url: raw.url });
    expect(img.backupStorageRefs.map((x: any) => [x.backupStorageUuid, x.status, x.installPath]).sort()).toEqual(
      [[bs1.uuid, 'Ready', `/sim/img-bs-1/${img.uuid}`], [bs2.uuid, 'Ready', `/sim/img-bs-2/${img.uuid}`]].sort(),
    );
    expect((await bsRow(bs1.uuid)).availableCapacity).toBe(100 * MiB - raw.bytes.length);
    const byBs = await c.call('GET', `/images${qs({ q: [`backupStorageRefs.backupStorageUuid=${bs2.uuid}`] })}`);
    expect(byBs.inventories.map((x: any) => x.uuid)).toEqual([img.uuid]);
    const byBsName = await c.call('GET', `/images${qs({ q: ['backupStorageRefs.backupStorage.name=img-bs-1', 'status=Ready'] })}`);
    expect(byBsName.inventories.map((x: any) => x.uuid)).toEqual([img.uuid]);
  });

  it('reads the format and the virtual size from a qcow2 header when no format is given', async () => {
    const bs = await addSim('img-bs-qcow2');
    const r = await addImage({ name: 'q', url: qcow2.url, format: undefined, backupStorageUuids: [bs.uuid] });
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ format: 'qcow2', size: qcow2.virtualSize, actualSize: qcow2.bytes.length, md5Sum: md5(qcow2.bytes) });
  });

  it('leaves no image row, reference, copy or tag when the only download fails (injected), and capacity is untouched', async () => {
    const bs = await addSim('img-bs-fail');
    injectBackupStorageFault(bs.uuid, 'download');
    const before = await countRows(db(), TABLES);
    const r = await addImage({ name: 'doomed', backupStorageUuids: [bs.uuid] }, { userTags: ['x'] });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('injected download failure');
    expect(await countRows(db(), TABLES)).toEqual(before);
    expect((await bsRow(bs.uuid)).availableCapacity).toBe(100 * MiB);
    clearBackupStorageFaults(bs.uuid);
  });

  it('keeps the image on the storages that succeeded when another one fails, as ZStack does', async () => {
    const good = await addSim('img-bs-good');
    const bad = await addSim('img-bs-bad');
    injectBackupStorageFault(bad.uuid, 'download');
    const r = await addImage({ name: 'partial', backupStorageUuids: [good.uuid, bad.uuid] });
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory.backupStorageRefs.map((x: any) => x.backupStorageUuid)).toEqual([good.uuid]);
    clearBackupStorageFaults(bad.uuid);
  });

  it('deletes the copies again when a later step of the chain fails: capacity and simulator state as before', async () => {
    const bs = await addSim('img-bs-late');
    const before = await countRows(db(), TABLES);
    const r = await addImage({ name: 'fail-after-ready', backupStorageUuids: [bs.uuid] });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('refusing image');
    expect(await countRows(db(), TABLES)).toEqual(before);
    expect((await bsRow(bs.uuid)).availableCapacity).toBe(100 * MiB);
  });

  it('refuses an image larger than the storage, a missing or disabled storage, an unreadable file, and a bad URL', async () => {
    const tiny = await addSim('img-bs-tiny', MiB);
    const off = await addSim('img-bs-off');
    await c.call('PUT', `/backup-storage/${off.uuid}/actions`, { changeBackupStorageState: { stateEvent: 'disable' } });
    const before = await countRows(db(), TABLES);
    const tooBig = await addImage({ name: 'big', backupStorageUuids: [tiny.uuid] });
    expect(tooBig.status).toBe(503);
    expect(tooBig.body.error.details).toContain('bytes free');
    expect((await addImage({ name: 'nobs', backupStorageUuids: [newUuid()] })).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await addImage({ name: 'offbs', backupStorageUuids: [off.uuid] })).body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    expect((await addImage({ name: 'nofile', url: pathToFileURL(join(dir, 'missing.raw')).href, backupStorageUuids: [tiny.uuid] })).status).toBe(503);
    const badUrl = await addImage({ name: 'badurl', url: 'gopher://x/y', backupStorageUuids: [tiny.uuid] });
    expect(badUrl.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    const isoRaw = await addImage({ name: 'isoraw', mediaType: 'ISO', format: 'raw', backupStorageUuids: [tiny.uuid] });
    expect(isoRaw.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(await countRows(db(), TABLES)).toEqual(before);
    expect((await bsRow(tiny.uuid)).availableCapacity).toBe(MiB);
  });

  it('simulates non-file URLs with the size given in the URL', async () => {
    const bs = await addSim('img-bs-http');
    const url = 'http://images.example/centos.iso?size=4096';
    const r = await addImage({ name: 'iso', url, mediaType: 'ISO', format: 'iso', backupStorageUuids: [bs.uuid] });
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ size: 4096, actualSize: 4096, format: 'iso', mediaType: 'ISO', md5Sum: md5(Buffer.from(url)) });
  });

  it('updates and disables an image', async () => {
    const bs = await addSim('img-bs-upd');
    const img = (await addImage({ name: 'upd', backupStorageUuids: [bs.uuid] })).body.inventory;
    const upd = await c.call('PUT', `/images/${img.uuid}/actions`, { updateImage: { name: 'upd-2', platform: 'Windows', guestOsType: 'Windows 2019' } });
    expect(upd.inventory).toMatchObject({ name: 'upd-2', platform: 'Windows', guestOsType: 'Windows 2019', format: 'raw' });
    const off = await c.call('PUT', `/images/${img.uuid}/actions`, { changeImageState: { stateEvent: 'disable' } });
    expect(off.inventory.state).toBe('Disabled');
  });

  it('deletes (recoverable), recovers, deletes again and expunges: the copies leave the storages only at expunge', async () => {
    const bs1 = await addSim('img-bs-life-1');
    const bs2 = await addSim('img-bs-life-2');
    const img = (await addImage({ name: 'life', backupStorageUuids: [bs1.uuid, bs2.uuid] }, { userTags: ['t'] })).body.inventory;
    const copiesOf = (uuid: string) => db().selectFrom('simulator_backup_storage_image').select('backupStorageUuid').where('imageUuid', '=', uuid).execute();
    const copies = () => copiesOf(img.uuid);

    await c.call('DELETE', `/images/${img.uuid}`);
    let q = (await c.call('GET', `/images/${img.uuid}`)).inventories[0];
    expect(q.status).toBe('Deleted');
    expect(await copies()).toHaveLength(2);
    await c.call('PUT', `/images/${img.uuid}/actions`, { expungeImage: {} });
    expect((await c.call('GET', `/images/${img.uuid}`)).inventories).toEqual([]);
    expect(await copies()).toEqual([]);
    expect((await bsRow(bs1.uuid)).availableCapacity).toBe(100 * MiB);
    expect(await db().selectFrom('user_tag').select('uuid').where('resourceUuid', '=', img.uuid).execute()).toEqual([]);

    const img2 = (await addImage({ name: 'life-2', backupStorageUuids: [bs1.uuid, bs2.uuid] })).body.inventory;
    const early = await c.send('PUT', `/images/${img2.uuid}/actions`, { expungeImage: {} });
    expect(early.status).toBe(503);
    expect(early.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    await c.call('DELETE', `/images/${img2.uuid}?backupStorageUuids=${bs1.uuid}`);
    q = (await c.call('GET', `/images/${img2.uuid}`)).inventories[0];
    expect(q.status).toBe('Ready'); // still Ready on bs2
    const rec = await c.call('PUT', `/images/${img2.uuid}/actions`, { recoverImage: {} });
    expect(rec.inventory.status).toBe('Ready');
    expect(rec.inventory.backupStorageRefs.every((x: any) => x.status === 'Ready')).toBe(true);
    await c.call('DELETE', `/images/${img2.uuid}`);
    await c.call('PUT', `/images/${img2.uuid}/actions`, { expungeImage: { backupStorageUuids: [bs1.uuid] } });
    q = (await c.call('GET', `/images/${img2.uuid}`)).inventories[0];
    expect(q.status).toBe('Deleted');
    expect((await copiesOf(img2.uuid)).map((r) => r.backupStorageUuid)).toEqual([bs2.uuid]);
    await c.call('PUT', `/images/${img2.uuid}/actions`, { expungeImage: {} });
    expect((await c.call('GET', `/images/${img2.uuid}`)).inventories).toEqual([]);
    expect((await c.send('DELETE', `/images/${img2.uuid}`)).status).toBe(200);
  });

  it('deleting a backup storage drops its image references and the images left on no storage', async () => {
    const only = await addSim('img-bs-only');
    const other = await addSim('img-bs-other');
    const lone = (await addImage({ name: 'lone', backupStorageUuids: [only.uuid] })).body.inventory;
    const shared = (await addImage({ name: 'shared', backupStorageUuids: [only.uuid, other.uuid] })).body.inventory;
    await c.call('DELETE', `/backup-storage/${only.uuid}`);
    expect((await c.call('GET', `/images/${lone.uuid}`)).inventories).toEqual([]);
    const s = await c.call('GET', `/images${qs({ q: [`uuid=${shared.uuid}`, `backupStorageRefs.backupStorageUuid=${other.uuid}`] })}`);
    expect(s.inventories).toHaveLength(1);
    expect(await db().selectFrom('image_backup_storage_ref').select('id').where('backupStorageUuid', '=', only.uuid).execute()).toEqual([]);
  });
});
