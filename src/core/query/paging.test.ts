import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyPlugin, RootOperationNode } from 'kysely';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from '../db/test-databases.ts';
import { executeQuery } from './query.ts';
import { executeZql } from './zql.ts';
import { createTestTables, testRegistry, u } from './test-inventories.ts';

const registry = testRegistry();
const ROWS = 5000;

/** Records the kind of every statement sent, to prove one COUNT + one page and no per-row queries. */
function recorder(): { plugin: KyselyPlugin; kinds: string[]; limits: unknown[] } {
  const kinds: string[] = [];
  const limits: unknown[] = [];
  const plugin: KyselyPlugin = {
    transformQuery({ node }): RootOperationNode {
      kinds.push(node.kind);
      if (node.kind === 'SelectQueryNode') limits.push(node.limit ? 'limit' : 'none');
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return { plugin, kinds, limits };
}

describe.each(testDatabaseKinds())('paging in SQL on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshTestDatabase(kind);
    await createTestTables(t);
    const base = Date.UTC(2024, 0, 1);
    for (let chunk = 0; chunk < ROWS; chunk += 500) {
      const rows = Array.from({ length: 500 }, (_, k) => {
        const i = chunk + k;
        return {
          uuid: u(`bulk-${i}`), name: `host-${String(i).padStart(5, '0')}`, description: null, managementIp: `10.${i >> 8}.${i & 255}.1`,
          clusterUuid: u(`c${i % 7}`), zoneUuid: u('z1'), state: i % 2 ? 'Enabled' : 'Disabled', cpuNum: i % 64, totalMemory: i,
          password: 'x', createDate: base + i * 1000, lastOpDate: base,
        };
      });
      await t.db.insertInto('host').values(rows).execute();
    }
  }, 60_000);
  afterAll(async () => { await t?.drop(); });

  it('returns one ordered page of 10 and the exact total, with one COUNT and one LIMITed SELECT', async () => {
    const rec = recorder();
    const db = t.db.withPlugin(rec.plugin);
    const r = await executeQuery(db, registry, 'HostInventory', { limit: 10, start: 4985, replyWithCount: true, sort: '-name', fields: ['name'] });
    expect(r.total).toBe(ROWS);
    expect(r.inventories).toHaveLength(10);
    expect(r.inventories!.map((i) => i.name)).toEqual(Array.from({ length: 10 }, (_, k) => `host-${String(14 - k).padStart(5, '0')}`));
    expect(rec.kinds).toEqual(['SelectQueryNode', 'SelectQueryNode']);
    expect(rec.limits).toEqual(['none', 'limit']); // the COUNT has no LIMIT; the page does
  });

  it('filters and counts in SQL on a large table', async () => {
    const r = await executeQuery(t.db, registry, 'HostInventory', { conditions: ['state=Enabled', 'cpuNum>=60'], replyWithCount: true, limit: 3, sort: 'name' });
    // cpuNum = i % 64 ∈ {61, 63} for odd i: 2 of every 64 rows (5000 = 78·64 + 8, the tail adds none).
    expect(r.total).toBe(78 * 2);
    expect(r.inventories!.map((i) => i.name)).toEqual(['host-00061', 'host-00063', 'host-00125']);
  });

  it('pages through everything without overlap when many rows tie on the sort key', async () => {
    const seen = new Set<string>();
    let returned = 0;
    for (let start = 0; ; start += 50) {
      const page = await executeQuery(t.db, registry, 'HostInventory', { conditions: ['cpuNum?=0,1,2'], sort: 'state', limit: 50, start, fields: ['uuid'] });
      if (page.inventories!.length === 0) break;
      returned += page.inventories!.length;
      for (const i of page.inventories!) seen.add(i.uuid as string);
    }
    const { total } = await executeQuery(t.db, registry, 'HostInventory', { conditions: ['cpuNum?=0,1,2'], count: true });
    expect(total).toBe(3 * 79); // 78 full cycles of 64 plus a tail holding 0, 1 and 2
    expect(returned).toBe(total);
    expect(seen.size).toBe(total);
  });

  it('gives ZQL queries without a limit the default page size, not the whole table', async () => {
    const r = await executeZql(t.db, registry, 'query host.uuid return with (total)');
    expect(r.results[0].total).toBe(ROWS);
    expect(r.results[0].inventories).toHaveLength(1000);
  });
});
