import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, openDatabase, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { setPageOffloadThresholdMs, shapeKey } from './compiled-cache.ts';
import { executeQuery } from './query.ts';
import { seedTestData, testRegistry, u, ZoneInv } from './test-inventories.ts';

describe.each(testDatabaseKinds())('compiled query shapes on %s', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => { await t?.drop(); t = undefined; });

  it('reuses a shape with each query\'s own values, limits and offsets', async () => {
    t = await freshTestDatabase(kind);
    await seedTestData(t);
    const reg = testRegistry();
    const names = async (conditions: string[], limit?: number, start?: number) =>
      ((await executeQuery(t!.db, reg, 'HostInventory', { conditions, limit, start, sort: '+name' })).inventories ?? []).map((h) => h.name);
    expect(await names(['cpuNum>=4'])).toEqual(['h1', 'h2', 'h3']);
    expect(await names(['cpuNum>=8'])).toEqual(['h2', 'h3']); // same shape, another value
    expect(await names(['cpuNum>=2'], 2, 1)).toEqual(['h2', 'h3']); // same shape, another page
    expect(await names(['cpuNum>=2'], 1, 2)).toEqual(['h3']); // and another (SQLite inlines limit/offset into the text)
    expect(await names(['cpuNum>=2'], 2, 1)).toEqual(['h2', 'h3']); // back to a page already prepared
    expect(await names(['state?=Enabled,Disabled', 'clusterUuid=' + u('c1')])).toEqual(['h1', 'h2']);
    expect(await names(['state?=Enabled,Disabled', 'clusterUuid=' + u('c3')])).toEqual(['h3']);
    expect(await names(['state?=Disabled,Nope', 'clusterUuid=' + u('c3')])).toEqual([]);
    const total = async (q: string) => (await executeQuery(t!.db, reg, 'HostInventory', { conditions: [q], count: true })).total;
    expect(await total('cpuNum<8')).toBe(2);
    expect(await total('cpuNum<100')).toBe(4);
  });

  it('answers a repeated total right after any write to the table: own writes, rolled-back ones, deletes and other connections\' commits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strato-test-totals-'));
    t = await freshTestDatabase(kind, dir);
    await seedTestData(t);
    const reg = testRegistry();
    const total = async () => (await executeQuery(t!.db, reg, 'HostInventory', { conditions: ['cpuNum>=4'], count: true })).total;
    const setCpu = (n: string, cpu: number) => t!.db.updateTable('host').set({ cpuNum: cpu }).where('uuid', '=', u(n)).execute();
    try {
      expect(await total()).toBe(3);
      expect(await total()).toBe(3); // SQLite: now from the shape's remembered totals
      await setCpu('h4', 4);
      expect(await total()).toBe(4);
      await t.db.transaction().execute(async (trx) => { await trx.updateTable('host').set({ cpuNum: 1 }).where('uuid', '=', u('h1')).execute(); }).catch(() => undefined);
      expect(await total()).toBe(3);
      await t.db.transaction().execute(async (trx) => {
        await trx.updateTable('host').set({ cpuNum: 4 }).where('uuid', '=', u('h1')).execute();
        throw new Error('rolled back');
      }).catch(() => undefined);
      expect(await total()).toBe(3);
      await t.db.deleteFrom('host').where('uuid', '=', u('h4')).execute();
      expect(await total()).toBe(2);
      if (kind === 'sqlite') {
        // Another connection (another process on the same file) commits: seen through SQLite's data_version.
        const other = await openDatabase(t.url);
        try {
          await other.db.updateTable('host').set({ cpuNum: 32 }).where('uuid', '=', u('h1')).execute();
        } finally {
          await other.close();
        }
        expect(await total()).toBe(3);
      }
    } finally {
      await t.drop();
      t = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reuses nested and tag shapes with each query\'s own values, and recounts after a write to any table they read', async () => {
    t = await freshTestDatabase(kind);
    await seedTestData(t);
    const reg = testRegistry();
    const query = async (inventory: string, conditions: string[], start = 0) =>
      executeQuery(t!.db, reg, inventory, { conditions, replyWithCount: true, limit: 10, start, sort: '+name' });
    const names = async (inventory: string, conditions: string[], start = 0) => {
      const r = await query(inventory, conditions, start);
      return { names: (r.inventories ?? []).map((x) => x.name), total: r.total };
    };
    // Each shape twice or more: the first run compiles, the later ones run the remembered SQL.
    for (let i = 0; i < 2; i++) {
      expect(await names('HostInventory', ['cluster.name=c1'])).toEqual({ names: ['h1', 'h2'], total: 2 });
      expect(await names('HostInventory', ['cluster.name=c3'])).toEqual({ names: ['h3'], total: 1 });
      expect(await names('HostInventory', ['cluster.zone.name=z1', 'cpuNum>=4'])).toEqual({ names: ['h1', 'h2'], total: 2 });
      expect(await names('HostInventory', ['cluster.zone.name=z2', 'cpuNum>=4'])).toEqual({ names: ['h3'], total: 1 });
      expect(await names('HostInventory', ['managementIp~=10.0.0.1%'])).toEqual({ names: ['h3'], total: 1 });
      expect(await names('HostInventory', ['managementIp~=10.0.0.%'], 1)).toEqual({ names: ['h2', 'h3', 'h4'], total: 4 });
      expect(await names('ClusterInventory', ['host.managementIp~=10.0.0.%'])).toEqual({ names: ['c1', 'c2', 'c3'], total: 3 });
      expect(await names('ZoneInventory', ['__userTag__=env::prod'])).toEqual({ names: ['z1'], total: 1 });
      expect(await names('ZoneInventory', ['__userTag__=env::dev'])).toEqual({ names: ['z2'], total: 1 });
      expect(await names('ZoneInventory', ['__userTag__!=env::prod'])).toEqual({ names: ['z2', 'z3'], total: 2 });
      expect(await names('ZoneInventory', ['__userTag__!=env::dev'])).toEqual({ names: ['z1', 'z3'], total: 2 });
      expect(await names('ZoneInventory', ['__userTag__?=env::dev,owner::alice'])).toEqual({ names: ['z1', 'z2'], total: 2 });
      expect(await names('ZoneInventory', ['__userTag__~=env::%', 'state=Enabled'])).toEqual({ names: ['z1', 'z2'], total: 2 });
      expect(await names('ZoneInventory', ['__userTag__ is null'])).toEqual({ names: ['z3'], total: 1 });
      expect(await names('ClusterInventory', ['zone.__userTag__=env::prod'])).toEqual({ names: ['c1', 'c2'], total: 2 });
      expect(await names('ClusterInventory', ['__systemTag__=hypervisor::kvm'])).toEqual({ names: ['c1'], total: 1 });
    }
    // A write to a table a total read (a tag table, a nested hop's table) is seen by the next query of the shape.
    await t.db.insertInto('user_tag').values({ uuid: u('t9'), resourceUuid: u('z3'), resourceType: 'ZoneVO', tag: 'env::prod', createDate: 0, lastOpDate: 0 }).execute();
    expect(await names('ZoneInventory', ['__userTag__=env::prod'])).toEqual({ names: ['z1', 'z3'], total: 2 });
    expect(await names('ZoneInventory', ['__userTag__ is null'])).toEqual({ names: [], total: 0 });
    await t.db.updateTable('cluster').set({ name: 'c1x' }).where('uuid', '=', u('c1')).execute();
    expect(await names('HostInventory', ['cluster.name=c1'])).toEqual({ names: [], total: 0 });
    await t.db.updateTable('zone').set({ name: 'z2x' }).where('uuid', '=', u('z2')).execute();
    expect(await names('HostInventory', ['cluster.zone.name=z2', 'cpuNum>=4'])).toEqual({ names: [], total: 0 });
    await t.db.updateTable('host').set({ managementIp: '10.0.1.9' }).where('uuid', '=', u('h4')).execute();
    expect(await names('ClusterInventory', ['host.managementIp~=10.0.0.%'])).toEqual({ names: ['c1x', 'c3'], total: 2 });
    await t.db.deleteFrom('system_tag').execute();
    expect(await names('ClusterInventory', ['__systemTag__=hypervisor::kvm'])).toEqual({ names: [], total: 0 });
  });

  it.runIf(kind === 'sqlite')('reads pages on the worker thread and still returns a caller\'s write right after it completed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strato-test-offload-'));
    const before = setPageOffloadThresholdMs(0);
    try {
      t = await freshTestDatabase(kind, dir);
      await seedTestData(t);
      const reg = testRegistry();
      const page = async (conditions: string[]) =>
        ((await executeQuery(t!.db, reg, 'HostInventory', { conditions, limit: 10, sort: '-createDate' })).inventories ?? []).map((h) => `${h.name}:${h.cpuNum}`);
      for (const q of [['cpuNum>=4'], ['cluster.name=c1'], ['zone.__userTag__=env::prod']]) await page(q); // compiled, then timed on the main thread
      expect(await page(['cpuNum>=4'])).toEqual(['h3:16', 'h2:8', 'h1:4']);
      for (let i = 0; i < 20; i++) {
        await t.db.updateTable('host').set({ cpuNum: 100 + i }).where('uuid', '=', u('h1')).execute();
        expect(await page(['cpuNum>=4'])).toEqual(['h3:16', 'h2:8', `h1:${100 + i}`]);
        expect(await page(['cluster.name=c1'])).toEqual(['h2:8', `h1:${100 + i}`]);
      }
      await t.db.updateTable('host').set({ zoneUuid: u('z2') }).where('uuid', '=', u('h2')).execute();
      expect(await page(['zone.__userTag__=env::prod'])).toEqual(['h4:2', 'h1:119']);
      await t.db.deleteFrom('host').where('uuid', '=', u('h4')).execute();
      expect(await page(['zone.__userTag__=env::prod'])).toEqual(['h1:119']);
    } finally {
      setPageOffloadThresholdMs(before);
      await t?.drop();
      t = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(kind === 'sqlite')('counts on the worker thread; a total read there while writes are uncommitted here is not kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strato-test-offload-count-'));
    const before = setPageOffloadThresholdMs(0);
    try {
      t = await freshTestDatabase(kind, dir);
      await seedTestData(t);
      const reg = testRegistry();
      const total = async () => (await executeQuery(t!.db, reg, 'HostInventory', { conditions: ['cpuNum>=4'], count: true })).total;
      const both = async () => {
        const r = await executeQuery(t!.db, reg, 'HostInventory', { conditions: ['cpuNum>=4'], replyWithCount: true, limit: 2, sort: '-cpuNum' });
        return { names: (r.inventories ?? []).map((h) => h.name), total: r.total };
      };
      expect(await total()).toBe(3); // compiled
      expect(await total()).toBe(3); // timed on the main thread
      await t.db.updateTable('host').set({ cpuNum: 4 }).where('uuid', '=', u('h4')).execute();
      expect(await total()).toBe(4); // on the worker
      expect(await both()).toEqual({ names: ['h3', 'h2'], total: 4 });
      expect(await both()).toEqual({ names: ['h3', 'h2'], total: 4 });
      await t.db.transaction().execute(async (trx) => {
        await trx.updateTable('host').set({ cpuNum: 1 }).where('uuid', '=', u('h1')).execute();
        // The worker does not see the open transaction's write, which the write epochs already count.
        expect(await total()).toBe(4);
      });
      expect(await total()).toBe(3);
      expect(await both()).toEqual({ names: ['h3', 'h2'], total: 3 });
    } finally {
      setPageOffloadThresholdMs(before);
      await t?.drop();
      t = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('still validates values of a cached shape', async () => {
    t = await freshTestDatabase(kind);
    await seedTestData(t);
    const reg = testRegistry();
    await executeQuery(t.db, reg, 'HostInventory', { conditions: ['cpuNum=4'] });
    await expect(executeQuery(t.db, reg, 'HostInventory', { conditions: ['cpuNum=four'] })).rejects.toMatchObject({ errorCode: { code: 'SYS.1007' } });
  });
});

describe('which plans are cached by shape', () => {
  const plan = (conds: Array<{ field: string; op: any; value?: string; values?: string[] }>) => ({
    inventory: ZoneInv, countOnly: false, withTotal: false, limit: 10, start: 0, sort: [],
    where: { kind: 'and' as const, children: conds.map((condition) => ({ kind: 'condition' as const, condition })) },
  });
  it('caches plain conditions on own fields, keyed by field, operator and value count', () => {
    expect(shapeKey(plan([{ field: 'name', op: '=', value: 'a' }]), undefined)).toBe(shapeKey(plan([{ field: 'name', op: '=', value: 'b' }]), undefined));
    expect(shapeKey(plan([{ field: 'name', op: 'in', values: ['a'] }]), undefined)).not.toBe(shapeKey(plan([{ field: 'name', op: 'in', values: ['a', 'b'] }]), undefined));
  });
  it('caches nested paths (given the registry) and tags; a LIKE with an index range is its own shape', () => {
    const reg = testRegistry();
    expect(shapeKey(plan([{ field: 'cluster.name', op: '=', value: 'a' }]), undefined)).toBeUndefined();
    expect(shapeKey(plan([{ field: 'cluster.name', op: '=', value: 'a' }]), undefined, reg)).toBe(shapeKey(plan([{ field: 'cluster.name', op: '=', value: 'b' }]), undefined, reg));
    expect(shapeKey(plan([{ field: '__userTag__', op: '=', value: 'a' }]), undefined)).toBe(shapeKey(plan([{ field: '__userTag__', op: '=', value: 'b' }]), undefined));
    expect(shapeKey(plan([{ field: 'name', op: 'like', value: '10.%' }]), undefined)).not.toBe(shapeKey(plan([{ field: 'name', op: 'like', value: 'a%' }]), undefined));
    expect(shapeKey(plan([{ field: '__userTag__', op: 'not like', value: '10.%' }]), undefined)).not.toBe(shapeKey(plan([{ field: '__userTag__', op: 'not like', value: 'a%' }]), undefined));
  });
  it('leaves unknown expansions, hidden nested fields, restrictions and like on non-strings to the compiler', () => {
    const reg = testRegistry();
    expect(shapeKey(plan([{ field: 'nope.name', op: '=', value: 'a' }]), undefined, reg)).toBeUndefined();
    expect(shapeKey(plan([{ field: 'cluster.host.password', op: '=', value: 'a' }]), undefined, reg)).toBeUndefined();
    expect(shapeKey(plan([{ field: 'name', op: '=', value: 'a' }]), () => undefined)).toBeUndefined();
    expect(shapeKey(plan([{ field: 'isDefault', op: 'like', value: 'a' }]), undefined)).toBeUndefined();
  });
});
