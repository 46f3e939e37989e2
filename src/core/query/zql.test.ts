import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from '../db/test-databases.ts';
import { StratoError } from '../errors/error-code.ts';
import { executeZql } from './zql.ts';
import { seedTestData, testRegistry, u } from './test-inventories.ts';

const registry = testRegistry();

describe.each(testDatabaseKinds())('ZQL on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshTestDatabase(kind);
    await seedTestData(t);
  });
  afterAll(async () => { await t?.drop(); });

  const zql = (text: string) => executeZql(t.db, registry, text);
  const names = async (text: string) => (await zql(text)).results[0].inventories!.map((i) => i.name);
  const failure = async (text: string): Promise<string> => {
    try {
      await zql(text);
    } catch (e) {
      expect(e).toBeInstanceOf(StratoError);
      expect((e as StratoError).errorCode.code).toBe('SYS.1007');
      return (e as StratoError).errorCode.details ?? '';
    }
    throw new Error('expected INVALID_ARGUMENT');
  };

  it('answers in ZStack\'s ZQLQueryReturn shape, one result per statement', async () => {
    const r = await zql("query zone where name = 'z1'; count cluster; query zone.name where isDefault = false return with (total) order by name desc named as 'others'");
    expect(r).toEqual({ results: [
      { inventories: [expect.objectContaining({ uuid: u('z1'), name: 'z1', isDefault: true, createDate: '2024-10-17T10:00:00.000Z' })] },
      { total: 3 },
      { inventories: [{ name: 'z3' }, { name: 'z2' }], total: 2, name: 'others' },
    ] });
  });

  it('combines and/or with parentheses, AND binding tighter', async () => {
    expect(await names("query host where cpuNum > 2 and (name = 'h1' or name = 'h3') order by name")).toEqual(['h1', 'h3']);
    expect(await names("query host where name = 'h4' or cpuNum > 2 and name = 'h1' order by name")).toEqual(['h1', 'h4']);
    expect(await names("query host where (name = 'h4' or cpuNum > 2) and name = 'h1' order by name")).toEqual(['h1']);
  });

  it('supports every operator and value type', async () => {
    expect(await names('query host where cpuNum >= 8 order by name')).toEqual(['h2', 'h3']);
    expect(await names('query host where cpuNum <= 4 and cpuNum < 4')).toEqual(['h4']);
    expect(await names('query host where cpuNum != 4 and cpuNum in (4, 8, 16) order by name')).toEqual(['h2', 'h3']);
    expect(await names('query host where cpuNum not in (4, 8) order by name')).toEqual(['h3', 'h4']);
    expect(await names(`query host where managementIp like "10.0.0.1%" or description not like 'o%' order by name`)).toEqual(['h2', 'h3']);
    expect(await names('query host where description is null')).toEqual(['h4']);
    expect(await names('query zone where description is not null and isDefault = TRUE')).toEqual(['z1']);
    expect(await names("query zone where createDate >= '2024-10-17 11:00:00' order by createDate desc")).toEqual(['z3', 'z2']);
  });

  it('follows nested paths and tag pseudo-fields like q= does', async () => {
    expect(await names("query host where cluster.zone.name = 'z1' and cluster.state = 'Enabled' order by name")).toEqual(['h1', 'h2']);
    expect(await names("query zone where __userTag__ = 'env::prod'")).toEqual(['z1']);
    expect(await names("query zone where __userTag__ not in ('env::prod', 'env::dev')")).toEqual(['z3']);
    expect(await names("query cluster where __systemTag__ like 'hypervisor::%'")).toEqual(['c1']);
  });

  it('runs sub-queries in in / not in', async () => {
    expect(await names("query cluster where zoneUuid in (query zone.uuid where name = 'z1') order by name")).toEqual(['c1', 'c2']);
    expect(await names("query cluster where zoneUuid not in (query zone.uuid where __userTag__ = 'env::prod')")).toEqual(['c3']);
    expect(await names("query host where clusterUuid in (query cluster.uuid where zoneUuid in (query zone.uuid where name = 'z2'))")).toEqual(['h3']);
  });

  it('pages with limit and offset and counts with return with (total)', async () => {
    const r = await zql('query host return with (total) order by cpuNum desc limit 2 offset 1');
    expect(r.results[0].total).toBe(4);
    expect(r.results[0].inventories!.map((i) => i.name)).toEqual(['h2', 'h1']);
    expect((await zql("count host where cluster.zone.name = 'z1'")).results).toEqual([{ total: 3 }]);
  });

  it('treats injection-looking strings as data', async () => {
    expect(await names(`query zone where name = "z1' or '1'='1"`)).toEqual([]);
    expect(await names(`query zone where name = 'x"; drop table zone; --'`)).toEqual([]);
    expect((await zql('count zone')).results[0].total).toBe(3);
  });

  it('applies the restrict hook to the root and to sub-queries', async () => {
    const r = await executeZql(t.db, registry, "query cluster where zoneUuid in (query zone.uuid where state = 'Enabled')", {
      restrict: (eb, alias, inv) => (inv.name === 'ZoneInventory' ? eb(`${alias}.name`, '!=', 'z1') : undefined),
    });
    expect(r.results[0].inventories!.map((i) => i.name)).toEqual(['c3']);
  });

  it('rejects unknown entities, fields and unsupported clauses', async () => {
    expect(await failure('query rack')).toMatch(/unknown ZQL entity 'rack'; valid entities are: cluster, host, zone/);
    expect(await failure("query cluster where zoneUuid in (query rack.uuid where name = 'x')")).toMatch(/unknown entity 'rack' in sub-query/);
    expect(await failure("query zone where colour = 'red'")).toMatch(/unknown field 'colour' of ZoneInventory/);
    expect(await failure('query host.password')).toMatch(/unknown field 'password'/);
    expect(await failure('query host order by password')).toMatch(/unknown field 'password'/);
    expect(await failure('query host where cpuNum = \'many\'')).toMatch(/invalid value 'many' for number field 'cpuNum'/);
    expect(await failure('query zone return with (zwatch)')).toMatch(/only 'total' is supported/);
    expect(await failure('query zone limit 10001')).toMatch(/invalid limit 10001/);
    expect(await failure('   ')).toMatch(/zql is empty/);
  });

  it('reports syntax errors with the position and what was expected, running nothing', async () => {
    expect(await failure("count zone; query zone wher name = 'z1'")).toMatch(/position 24 near 'wher name = 'z1''.*expected/);
    expect(await failure("query zone where name == 'z1'")).toMatch(/position 24.*expected a value/);
  });
});
