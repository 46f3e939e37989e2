import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrimaryStorageErrors } from '../src/contracts/primary-storage.ts';
import { SnapshotLifecyclePoint } from '../src/contracts/volume-snapshot.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { StratoError, SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { clearSnapshotFaults, injectSnapshotFault } from '../src/services/volume-snapshot/index.ts';
import { stepFailures, type FailWhen } from './support/failing-steps.ts';
import { countRows, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const TABLES = ['volume_snapshot', 'volume_snapshot_tree', 'simulator_volume_snapshot_bits', 'user_tag'];
/** A test-only plugin: a failure at any step of any chain (`failures.at`). */
const failures = stepFailures('test-failing-snapshot-steps');
const WHEN: FailWhen[] = ['before', 'after'];

describe.each(testDatabaseKinds())('volume snapshots through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  let vetoRevert: string | undefined;
  const db = () => t.node.ctx.db;
  const available = async (uuid: string) => Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', uuid).executeTakeFirstOrThrow()).availableCapacity);
  const addPs = async (name: string, capacity = 100 * GiB) => (await c.call('POST', '/primary-storage/simulators', { params: { name, url: `/sim/${name}`, zoneUuid, totalCapacity: capacity, availableCapacity: capacity } })).inventory;
  const volume = async (ps: string, size = 2 * GiB) => (await c.call('POST', '/volumes/data', { params: { name: `v-${newUuid().slice(0, 6)}`, diskSize: size, primaryStorageUuid: ps } })).inventory;
  const snap = (volumeUuid: string, name: string, top: Record<string, unknown> = {}) => c.send('POST', `/volumes/${volumeUuid}/volume-snapshots`, { params: { name }, ...top });
  const take = async (volumeUuid: string, name: string) => (await snap(volumeUuid, name)).body.inventory;
  const revert = (uuid: string) => c.send('PUT', `/volume-snapshots/${uuid}/actions`, { revertVolumeFromSnapshot: {} });
  const del = (uuid: string) => c.send('DELETE', `/volume-snapshots/${uuid}`);
  /** name → [parent name, distance, latest] of every snapshot of a volume. */
  async function shape(volumeUuid: string) {
    const all = (await c.call('GET', `/volume-snapshots${qs({ q: `volumeUuid=${volumeUuid}` })}`)).inventories as any[];
    const nameOf = new Map(all.map((s) => [s.uuid, s.name]));
    return Object.fromEntries(all.map((s) => [s.name, [s.parentUuid ? nameOf.get(s.parentUuid) : null, s.distance, s.latest]]));
  }

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    zoneUuid = (await createZone(c, 'snap-zone')).uuid;
    t.node.ctx.extensions.registerObserver(SnapshotLifecyclePoint, {
      preRevert(_s, v) {
        if (vetoRevert === v.uuid) throw new StratoError(SysErrors.OPERATION_ERROR, `the VM of volume ${v.uuid} is Running`);
      },
    }, { by: 'test' });
  });
  afterEach(() => clearSnapshotFaults());
  afterAll(async () => t?.stop());

  it('builds a chain with one tree, reserves each snapshot on the storage, queries snapshots and trees with nested fields', async () => {
    const ps = await addPs('snap-chain', 20 * GiB);
    const v = await volume(ps.uuid);
    const s1 = (await snap(v.uuid, 's1', { userTags: ['gold'] })).body.inventory;
    expect(s1).toMatchObject({ name: 's1', volumeUuid: v.uuid, parentUuid: null, primaryStorageUuid: ps.uuid, volumeType: 'Data', format: 'qcow2', latest: true, size: 2 * GiB, state: 'Enabled', status: 'Ready', distance: 0, type: 'Hypervisor' });
    expect(s1).not.toHaveProperty('charged');
    const s2 = await take(v.uuid, 's2');
    await take(v.uuid, 's3');
    expect(await shape(v.uuid)).toEqual({ s1: [null, 0, false], s2: ['s1', 1, false], s3: ['s2', 2, true] });
    expect(await available(ps.uuid)).toBe(20 * GiB - 2 * GiB - 3 * 2 * GiB);

    const trees = (await c.call('GET', `/volume-snapshots/trees${qs({ q: `volumeUuid=${v.uuid}` })}`)).inventories;
    expect(trees).toEqual([expect.objectContaining({ uuid: s1.treeUuid, volumeUuid: v.uuid, current: true, status: 'Completed' })]);
    expect((await c.call('GET', `/volume-snapshots/trees/${s1.treeUuid}`)).inventories).toHaveLength(1);
    expect((await c.call('GET', `/volume-snapshots${qs({ q: ['volume.name=' + v.name, 'parent.name=s1'] })}`)).inventories.map((s: any) => s.uuid)).toEqual([s2.uuid]);
    expect((await c.call('GET', `/volume-snapshots${qs({ q: 'primaryStorage.name=snap-chain', count: true })}`)).total).toBe(3);
    expect((await c.call('GET', `/volume-snapshots/trees${qs({ q: 'snapshots.name=s2' })}`)).inventories.map((x: any) => x.uuid)).toEqual([s1.treeUuid]);

    const updated = await c.call('PUT', `/volume-snapshots/${s2.uuid}/actions`, { updateVolumeSnapshot: { name: 's2b', description: 'mid' } });
    expect(updated.inventory).toMatchObject({ name: 's2b', description: 'mid' });
  });

  it('refuses a snapshot of a volume that is not Ready, or beyond the storage room, leaving nothing', async () => {
    const ps = await addPs('snap-room', 5 * GiB);
    const notReady = (await c.call('POST', '/volumes/data', { params: { name: 'nowhere', diskSize: GiB } })).inventory;
    expect((await snap(notReady.uuid, 'x')).body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    expect((await snap(newUuid(), 'x')).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    const v = await volume(ps.uuid, 2 * GiB);
    await take(v.uuid, 'fits');
    const before = await countRows(db(), TABLES);
    const full = await snap(v.uuid, 'too-much');
    expect(full.body.error.code).toBe(PrimaryStorageErrors.INSUFFICIENT_CAPACITY.code);
    expect(await countRows(db(), TABLES)).toEqual(before);
    expect(await available(ps.uuid)).toBe(GiB);
  });

  it('a failure of the storage while taking a snapshot leaves capacity, bits and tree as they were', async () => {
    const ps = await addPs('snap-fail', 20 * GiB);
    const v = await volume(ps.uuid);
    await take(v.uuid, 'a');
    const before = { rows: await countRows(db(), TABLES), cap: await available(ps.uuid), shape: await shape(v.uuid) };
    injectSnapshotFault(ps.uuid, 'takeSnapshot', { times: 1 });
    const r = await snap(v.uuid, 'never', { userTags: ['t'] });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('injected takeSnapshot failure');
    expect({ rows: await countRows(db(), TABLES), cap: await available(ps.uuid), shape: await shape(v.uuid) }).toEqual(before);
  });

  it('a failure before or after any step of volume-snapshot.create (read from the FlowRegistry) leaves capacity, bits, tags and tree as they were', async () => {
    const ps = await addPs('snap-every-step', 20 * GiB);
    const steps = failures.stepsOf('volume-snapshot.create');
    expect(steps).toEqual(expect.arrayContaining(['allocate-snapshot-space', 'take-snapshot', 'persist-snapshot'].map((n) => `volume-snapshot.create/${n}`)));
    for (const first of [true, false]) {
      // A volume's first snapshot makes its tree; a later one hangs under the latest.
      const v = await volume(ps.uuid);
      if (!first) await take(v.uuid, 'base');
      for (const path of steps) {
        for (const when of WHEN) {
          const before = { rows: await countRows(db(), TABLES), cap: await available(ps.uuid), shape: await shape(v.uuid) };
          failures.at = { path, when };
          let r;
          try {
            r = await snap(v.uuid, 'never', { userTags: ['t'] });
          } finally {
            failures.at = undefined;
          }
          const what = `failing ${when} ${path} (${first ? 'first' : 'second'} snapshot)`;
          expect(r.status, what).toBe(503);
          expect(r.body.error.details, what).toContain(failures.message(path, when));
          expect({ rows: await countRows(db(), TABLES), cap: await available(ps.uuid), shape: await shape(v.uuid) }, what).toEqual(before);
        }
      }
      expect((await snap(v.uuid, 'works')).status).toBe(200);
    }
  }, 180_000);

  it('a failure before or after any step of volume-snapshot.delete or .revert leaves tree, capacity and bits as before, or, once the storage step began, as the finished operation does', async () => {
    const ps = await addPs('snap-every-step-2', 400 * GiB);
    const bitsCount = async () => Number((await db().selectFrom('simulator_volume_snapshot_bits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    /** A volume with a ← b ← c (c the latest); the operation runs on b (delete) or a (revert). */
    const world = async () => {
      const v = await volume(ps.uuid);
      const a = await take(v.uuid, 'a');
      const b = await take(v.uuid, 'b');
      await take(v.uuid, 'c');
      return { v, a, b };
    };
    const cases = [
      { chain: 'volume-snapshot.delete', noReturn: 'delete-snapshot-bits', op: (x: { a: any; b: any }) => del(x.b.uuid) },
      { chain: 'volume-snapshot.revert', noReturn: 'revert-volume', op: (x: { a: any; b: any }) => revert(x.a.uuid) },
    ];
    for (const { chain, noReturn, op } of cases) {
      const steps = failures.stepsOf(chain);
      const nr = steps.indexOf(`${chain}/${noReturn}`);
      expect(nr).toBeGreaterThanOrEqual(0);
      for (const [i, path] of steps.entries()) {
        for (const when of WHEN) {
          // What the finished operation leaves, from a twin that succeeds.
          const twin = await world();
          const twinCap = await available(ps.uuid);
          const twinBits = await bitsCount();
          expect((await op(twin)).status).toBe(200);
          const done = { shape: await shape(twin.v.uuid), capDelta: (await available(ps.uuid)) - twinCap, bitsDelta: (await bitsCount()) - twinBits };
          const x = await world();
          const before = { shape: await shape(x.v.uuid), cap: await available(ps.uuid), bits: await bitsCount() };
          failures.at = { path, when };
          let r;
          try {
            r = await op(x);
          } finally {
            failures.at = undefined;
          }
          const what = `failing ${when} ${path}`;
          expect(r.status, what).toBe(503);
          expect(r.body.error.details, what).toContain(failures.message(path, when));
          const after = { shape: await shape(x.v.uuid), cap: await available(ps.uuid), bits: await bitsCount() };
          const finished = i > nr || (i === nr && when === 'after');
          expect(after, `${what} (${finished ? 'finished' : 'undone'})`).toEqual(finished ? { shape: done.shape, cap: before.cap + done.capDelta, bits: before.bits + done.bitsDelta } : before);
        }
      }
    }
  }, 180_000);

  it('reverting makes the snapshot the current point (the next one starts a branch); a vetoed or failing revert changes nothing', async () => {
    const ps = await addPs('snap-revert', 20 * GiB);
    const v = await volume(ps.uuid);
    const a = await take(v.uuid, 'a');
    await take(v.uuid, 'b');
    const before = await shape(v.uuid);
    injectSnapshotFault(ps.uuid, 'revertVolume', { times: 1 });
    expect((await revert(a.uuid)).body.error.details).toContain('injected revertVolume failure');
    vetoRevert = v.uuid;
    try {
      expect((await revert(a.uuid)).body.error.details).toContain('is Running');
    } finally {
      vetoRevert = undefined;
    }
    expect(await shape(v.uuid)).toEqual(before);
    expect((await revert(a.uuid)).status).toBe(200);
    expect(await shape(v.uuid)).toEqual({ a: [null, 0, true], b: ['a', 1, false] });
    await take(v.uuid, 'c');
    expect(await shape(v.uuid)).toEqual({ a: [null, 0, false], b: ['a', 1, false], c: ['a', 1, true] });
    expect((await revert(newUuid())).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });

  it('deleting a snapshot merges it into its children; deleting the latest makes its parent the current point; capacity follows exactly', async () => {
    const ps = await addPs('snap-delete', 40 * GiB);
    const v = await volume(ps.uuid, 2 * GiB);
    const a = await take(v.uuid, 'a');
    const b = await take(v.uuid, 'b');
    const c1 = await take(v.uuid, 'c1');
    await revert(b.uuid);
    await take(v.uuid, 'c2');
    // a ← b ← {c1, c2*}: 4 snapshots of 2 GiB and the volume.
    expect(await available(ps.uuid)).toBe(30 * GiB);

    // Failures at each storage step of the deletion leave everything as it was.
    for (const op of ['mergeSnapshot', 'deleteSnapshot'] as const) {
      const before = { rows: await countRows(db(), TABLES), cap: await available(ps.uuid), shape: await shape(v.uuid), bits: await db().selectFrom('simulator_volume_snapshot_bits').selectAll().orderBy('installPath').execute() };
      injectSnapshotFault(ps.uuid, op, { times: 1 });
      const r = await del(b.uuid);
      expect(r.body.error.details, op).toContain(`injected ${op} failure`);
      expect({ rows: await countRows(db(), TABLES), cap: await available(ps.uuid), shape: await shape(v.uuid), bits: await db().selectFrom('simulator_volume_snapshot_bits').selectAll().orderBy('installPath').execute() }, op).toEqual(before);
    }

    // b has two children: the first inherits b's reservation, the second takes room for b's data.
    expect((await del(b.uuid)).status).toBe(200);
    expect(await shape(v.uuid)).toEqual({ a: [null, 0, false], c1: ['a', 1, false], c2: ['a', 1, true] });
    const sizes = Object.fromEntries(((await c.call('GET', `/volume-snapshots${qs({ q: `volumeUuid=${v.uuid}` })}`)).inventories as any[]).map((s) => [s.name, s.size]));
    expect(sizes).toEqual({ a: 2 * GiB, c1: 4 * GiB, c2: 4 * GiB });
    expect(await available(ps.uuid)).toBe(28 * GiB);

    // The latest goes: its parent is the current point again, its reservation comes back.
    const [c2] = (await c.call('GET', `/volume-snapshots${qs({ q: ['name=c2', `volumeUuid=${v.uuid}`] })}`)).inventories;
    expect((await del(c2.uuid)).status).toBe(200);
    expect(await shape(v.uuid)).toEqual({ a: [null, 0, true], c1: ['a', 1, false] });
    expect(await available(ps.uuid)).toBe(32 * GiB);
    expect((await take(v.uuid, 'd')).parentUuid).toBe(a.uuid);

    // Deleting the rest empties the tree; an unknown snapshot is deleted already.
    for (const s of (await c.call('GET', `/volume-snapshots${qs({ q: `volumeUuid=${v.uuid}` })}`)).inventories) expect((await del(s.uuid)).status).toBe(200);
    expect(await available(ps.uuid)).toBe(38 * GiB);
    expect((await c.call('GET', `/volume-snapshots/trees${qs({ q: `volumeUuid=${v.uuid}` })}`)).inventories).toEqual([]);
    expect((await del(c1.uuid)).status).toBe(200);
    expect(await db().selectFrom('simulator_volume_snapshot_bits').select('installPath').where('primaryStorageUuid', '=', ps.uuid).execute()).toEqual([]);
  });

  it('expunging a volume deletes its snapshots and trees with their capacity; deleting the storage cascades through volumes to snapshots', async () => {
    const ps = await addPs('snap-expunge', 20 * GiB);
    const v = await volume(ps.uuid, 2 * GiB);
    await take(v.uuid, 'x1');
    await take(v.uuid, 'x2');
    expect(await available(ps.uuid)).toBe(14 * GiB);
    await c.call('DELETE', `/volumes/${v.uuid}`);
    expect((await c.call('GET', `/volume-snapshots${qs({ q: `volumeUuid=${v.uuid}` })}`)).inventories).toHaveLength(2);
    expect((await snap(v.uuid, 'on-deleted')).body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
    await c.call('PUT', `/volumes/${v.uuid}/actions`, { expungeDataVolume: {} });
    expect(await available(ps.uuid)).toBe(20 * GiB);
    expect(await db().selectFrom('volume_snapshot').select('uuid').where('volumeUuid', '=', v.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('volume_snapshot_tree').select('uuid').where('volumeUuid', '=', v.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('simulator_volume_snapshot_bits').select('installPath').where('primaryStorageUuid', '=', ps.uuid).execute()).toEqual([]);

    const ps2 = await addPs('snap-cascade', 20 * GiB);
    const w = await volume(ps2.uuid);
    await take(w.uuid, 'y1');
    expect((await c.send('DELETE', `/primary-storage/${ps2.uuid}`)).status).toBe(200);
    expect(await db().selectFrom('volume_snapshot').select('uuid').where('volumeUuid', '=', w.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('volume_snapshot_tree').select('uuid').where('volumeUuid', '=', w.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('simulator_volume_snapshot_bits').select('installPath').where('primaryStorageUuid', '=', ps2.uuid).execute()).toEqual([]);
  });

  it('concurrent snapshots of one volume are serialized in its queue into one chain', async () => {
    const ps = await addPs('snap-race', 100 * GiB);
    const v = await volume(ps.uuid, GiB);
    const results = await Promise.all(Array.from({ length: 8 }, (_x, i) => snap(v.uuid, `r${i}`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const all = (await c.call('GET', `/volume-snapshots${qs({ q: `volumeUuid=${v.uuid}`, sortBy: 'distance', sortDirection: 'asc' })}`)).inventories as any[];
    expect(all.map((s) => s.distance)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(all.filter((s) => s.latest)).toHaveLength(1);
    for (let i = 1; i < all.length; i++) expect(all[i].parentUuid).toBe(all[i - 1].uuid);
    expect(await available(ps.uuid)).toBe(100 * GiB - 9 * GiB);
  });
});
