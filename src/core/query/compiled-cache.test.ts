import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, openDatabase, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { shapeKey } from './compiled-cache.ts';
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
  it('leaves nested paths, tags, restrictions and like on non-strings to the compiler', () => {
    expect(shapeKey(plan([{ field: 'cluster.name', op: '=', value: 'a' }]), undefined)).toBeUndefined();
    expect(shapeKey(plan([{ field: '__userTag__', op: '=', value: 'a' }]), undefined)).toBeUndefined();
    expect(shapeKey(plan([{ field: 'name', op: '=', value: 'a' }]), () => undefined)).toBeUndefined();
    expect(shapeKey(plan([{ field: 'isDefault', op: 'like', value: 'a' }]), undefined)).toBeUndefined();
  });
});
