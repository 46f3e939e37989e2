import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from '../db/test-databases.ts';
import { StratoError } from '../errors/error-code.ts';
import { executeQuery, getByUuid, type QueryOptions } from './query.ts';
import { prefixRange } from './compile-where.ts';
import { at, ClusterInv, seedTestData, testRegistry, u } from './test-inventories.ts';
import { InventoryRegistry } from './registry.ts';

const registry = testRegistry();

async function invalidArgument(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StratoError);
    expect((e as StratoError).errorCode.code).toBe('SYS.1007');
    return (e as StratoError).errorCode.details ?? '';
  }
  throw new Error('expected INVALID_ARGUMENT, the query succeeded');
}

describe.each(testDatabaseKinds())('query API on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshTestDatabase(kind);
    await seedTestData(t);
  });
  afterAll(async () => { await t?.drop(); });

  const names = async (inv: string, conditions: string[], opts: QueryOptions = {}) =>
    (await executeQuery(t.db, registry, inv, { conditions, sort: 'name', ...opts })).inventories!.map((i) => i.name);

  it('returns inventories in their API shape: ISO dates, true/false booleans, no hidden fields', async () => {
    const r = await executeQuery(t.db, registry, 'ZoneInventory', { conditions: ['name=z1'] });
    expect(r).toEqual({ inventories: [{
      uuid: u('z1'), name: 'z1', description: 'first zone', state: 'Enabled', type: 'zstack', isDefault: true,
      createDate: '2024-10-17T10:00:00.000Z', lastOpDate: '2024-10-17T10:00:00.000Z',
    }] });
    const [h] = (await executeQuery(t.db, registry, 'HostInventory', { conditions: ['name=h1'] })).inventories!;
    expect(h).not.toHaveProperty('password');
    expect(h.totalMemorySize).toBe(4 * 2 ** 33);
    expect(h.cpuNum).toBe(4);
  });

  it.each([
    ['cpuNum=8', ['h2']],
    ['cpuNum!=8', ['h1', 'h3', 'h4']],
    ['cpuNum>4', ['h2', 'h3']],
    ['cpuNum>=4', ['h1', 'h2', 'h3']],
    ['cpuNum<4', ['h4']],
    ['cpuNum<=4', ['h1', 'h4']],
    ['cpuNum?=2,16', ['h3', 'h4']],
    ['cpuNum!?=2,16', ['h1', 'h2']],
    ['managementIp~=10.0.0.1%', ['h3']],
    ['managementIp!~=10.0.0.1%', ['h1', 'h2', 'h4']],
    ['description is null', ['h4']],
    ['description not null', ['h1', 'h2', 'h3']],
    ['name?=h1', ['h1']],
    ['totalMemorySize>=68719476736', ['h2', 'h3']],
  ])('operator: %s', async (q, expected) => {
    expect(await names('HostInventory', [q])).toEqual(expected);
  });

  it('matches like case-insensitively with the user\'s own wildcards on both databases', async () => {
    expect(await names('ZoneInventory', ['description~=%zone'])).toEqual(['z1', 'z2']);
    expect(await names('ZoneInventory', ['description~=second%'])).toEqual(['z2']);
    expect(await names('ZoneInventory', ['name~=z_'])).toEqual(['z1', 'z2', 'z3']);
    expect(await names('ZoneInventory', ['name~=z'])).toEqual([]);
  });

  it('matches like patterns with an index range (a digits-and-dots prefix) exactly as without', async () => {
    expect(prefixRange('10.0.0.1%')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect([prefixRange('web%'), prefixRange('%.5'), prefixRange('10._%'), prefixRange('10.0')]).toEqual([undefined, undefined, undefined, undefined]);
    expect(await names('HostInventory', ['managementIp~=10.0.0.1%'])).toEqual(['h3']);
    expect(await names('HostInventory', ['managementIp~=10.0.0.%'])).toEqual(['h1', 'h2', 'h3', 'h4']);
    expect(await names('HostInventory', ['managementIp~=10.0.0.%6'])).toEqual(['h3']);
    expect(await names('HostInventory', ['managementIp~=10.0.0._'])).toEqual(['h1', 'h2', 'h4']);
    expect(await names('HostInventory', ['managementIp!~=10.0.0.1%'])).toEqual(['h1', 'h2', 'h4']);
  });

  it('ANDs several q conditions', async () => {
    expect(await names('HostInventory', ['cpuNum>2', 'clusterUuid=' + u('c1'), 'name!=h1'])).toEqual(['h2']);
  });

  it('compares booleans and rejects non-boolean text', async () => {
    expect(await names('ZoneInventory', ['isDefault=true'])).toEqual(['z1']);
    expect(await names('ZoneInventory', ['isDefault=false'])).toEqual(['z2', 'z3']);
    expect(await invalidArgument(names('ZoneInventory', ['isDefault=yes']))).toMatch(/boolean/);
  });

  it('compares dates given as SQL datetime (UTC), ISO 8601 or epoch ms, and returns them as ISO', async () => {
    expect(await names('ZoneInventory', ['createDate>=2024-10-17 11:00:00'])).toEqual(['z2', 'z3']);
    expect(await names('ZoneInventory', ['createDate<2024-10-17T13:00:00+02:00'])).toEqual(['z1']);
    expect(await names('ZoneInventory', [`createDate=${at(2)}`])).toEqual(['z3']);
    expect(await invalidArgument(names('ZoneInventory', ['createDate>last week']))).toMatch(/date field 'createDate'/);
  });

  it('follows a one-level nested path through an expansion', async () => {
    expect(await names('ClusterInventory', ['zone.name=z1'])).toEqual(['c1', 'c2']);
    expect(await names('ClusterInventory', ['zone.isDefault=false'])).toEqual(['c3']);
  });

  it('keeps negative operators inside the nested sub-query, as ZStack does', async () => {
    expect(await names('ClusterInventory', ['zone.name!=z1'])).toEqual(['c3']);
    expect(await names('ZoneInventory', ['cluster.state!=Enabled'])).toEqual(['z1']);
  });

  it('follows multi-valued expansions (zone → its clusters)', async () => {
    expect(await names('ZoneInventory', ['cluster.hypervisorType=KVM'])).toEqual(['z1']);
    expect(await names('ZoneInventory', ['cluster.uuid not null'])).toEqual(['z1', 'z2']);
  });

  it('follows two-level nested paths', async () => {
    expect(await names('HostInventory', ['cluster.zone.name=z1'])).toEqual(['h1', 'h2', 'h4']);
    expect(await names('HostInventory', ['cluster.zone.name=z1', 'cluster.state=Enabled'])).toEqual(['h1', 'h2']);
    expect(await names('ZoneInventory', ['cluster.host.cpuNum>=16'])).toEqual(['z2']);
  });

  it('queries user tags with positive operators, filtered by resourceType', async () => {
    expect(await names('ZoneInventory', ['__userTag__=env::prod'])).toEqual(['z1']); // z3's env::prod is a ClusterVO tag
    expect(await names('ZoneInventory', ['__userTag__~=env::%'])).toEqual(['z1', 'z2']);
    expect(await names('ZoneInventory', ['__userTag__?=env::dev,owner::alice'])).toEqual(['z1', 'z2']);
    expect(await names('ZoneInventory', ['__userTag__ not null'])).toEqual(['z1', 'z2']);
  });

  it('inverts negative tag operators into NOT IN (resources without such a tag)', async () => {
    expect(await names('ZoneInventory', ['__userTag__!=env::prod'])).toEqual(['z2', 'z3']);
    expect(await names('ZoneInventory', ['__userTag__!~=owner::%'])).toEqual(['z2', 'z3']);
    expect(await names('ZoneInventory', ['__userTag__!?=env::prod,env::dev'])).toEqual(['z3']);
    expect(await names('ZoneInventory', ['__userTag__ is null'])).toEqual(['z3']);
  });

  it('queries system tags and tags of nested inventories', async () => {
    expect(await names('ClusterInventory', ['__systemTag__=hypervisor::kvm'])).toEqual(['c1']);
    expect(await names('ClusterInventory', ['__systemTag__ is null'])).toEqual(['c2', 'c3']);
    expect(await names('ClusterInventory', ['zone.__userTag__=env::prod'])).toEqual(['c1', 'c2']);
  });

  it('treats SQL-injection-looking values as data', async () => {
    expect(await names('ZoneInventory', ["name=z1' OR '1'='1"])).toEqual([]);
    expect(await names('ZoneInventory', ['name?=z1,z2\') OR (\'1\'=\'1'])).toEqual(['z1']);
    expect(await names('ZoneInventory', ['name=z1; DROP TABLE zone; --'])).toEqual([]);
    expect(await names('ZoneInventory', ['__userTag__=x\') OR 1=1 --'])).toEqual([]);
    expect(await names('ZoneInventory', ['description~=%\'%'])).toEqual([]);
    expect((await executeQuery(t.db, registry, 'ZoneInventory', { count: true })).total).toBe(3);
  });

  it('pages with limit and start, sorts with +/-/none, and breaks ties by primary key', async () => {
    expect(await names('HostInventory', [], { sort: '-cpuNum', limit: 2 })).toEqual(['h3', 'h2']);
    expect(await names('HostInventory', [], { sort: '+cpuNum', limit: 2, start: 1 })).toEqual(['h1', 'h2']);
    expect(await names('HostInventory', [], { sort: 'name', start: 3 })).toEqual(['h4']);
    expect(await names('HostInventory', [], { start: 10 })).toEqual([]);
    expect(await names('HostInventory', [], { limit: 0 })).toEqual([]);
    // Ties on state: the primary key orders them, identically on every call.
    const byState = (await executeQuery(t.db, registry, 'HostInventory', { sort: 'state' })).inventories!.map((i) => i.uuid);
    expect(byState).toEqual([u('h1'), u('h2'), u('h3'), u('h4')].sort());
  });

  it('orders by createDate when no sort is given', async () => {
    const r = await executeQuery(t.db, registry, 'ClusterInventory', {});
    expect(r.inventories!.map((i) => i.name)).toEqual(['c1', 'c2', 'c3']);
  });

  it('projects fields', async () => {
    const r = await executeQuery(t.db, registry, 'ZoneInventory', { conditions: ['name=z2'], fields: ['uuid', 'name'] });
    expect(r.inventories).toEqual([{ uuid: u('z2'), name: 'z2' }]);
  });

  it('counts in SQL: count=true gives only the total, replyWithCount gives both', async () => {
    expect(await executeQuery(t.db, registry, 'HostInventory', { conditions: ['cpuNum>2'], count: true })).toEqual({ total: 3 });
    const r = await executeQuery(t.db, registry, 'HostInventory', { conditions: ['cpuNum>2'], replyWithCount: true, limit: 1, sort: 'name' });
    expect(r.total).toBe(3);
    expect(r.inventories!.map((i) => i.name)).toEqual(['h1']);
  });

  it('answers GET by uuid with a list of zero or one inventory', async () => {
    expect((await getByUuid(t.db, registry, 'ClusterInventory', u('c3'))).inventories!.map((i) => i.name)).toEqual(['c3']);
    expect((await getByUuid(t.db, registry, 'ClusterInventory', u('nope'))).inventories).toEqual([]);
  });

  it('applies the restrict hook to the root table', async () => {
    const allowed = [u('h1'), u('h3')];
    const r = await executeQuery(t.db, registry, 'HostInventory', {
      sort: 'name', replyWithCount: true,
      restrict: (eb, alias) => eb(`${alias}.uuid`, 'in', allowed),
    });
    expect(r.inventories!.map((i) => i.name)).toEqual(['h1', 'h3']);
    expect(r.total).toBe(2);
  });

  it('rejects unknown and hidden fields, naming them and listing the valid ones', async () => {
    const msg = await invalidArgument(names('ZoneInventory', ['colour=red']));
    expect(msg).toMatch(/unknown field 'colour' of ZoneInventory; valid fields are: uuid, name, description, state, type, isDefault, createDate, lastOpDate, cluster\.\*, __userTag__, __systemTag__/);
    expect(await invalidArgument(names('HostInventory', ['password=secret-h1']))).toMatch(/unknown field 'password'/);
    expect(await invalidArgument(names('HostInventory', [], { fields: ['uuid', 'password'] }))).toMatch(/unknown field 'password'/);
    expect(await invalidArgument(names('HostInventory', [], { sort: '-password' }))).toMatch(/unknown field 'password'/);
    expect(await invalidArgument(names('HostInventory', ['cluster.colour=red']))).toMatch(/unknown field 'colour' of ClusterInventory/);
    expect(await invalidArgument(names('HostInventory', ['rack.name=r1']))).toMatch(/'rack' is not an expandable field/);
    expect(await invalidArgument(names('HostInventory', [], { fields: ['cluster.name'] }))).toMatch(/not nested paths/);
  });

  it('rejects malformed conditions, bad numbers and like on non-strings', async () => {
    expect(await invalidArgument(names('HostInventory', ['cpuNum']))).toMatch(/no query operator/);
    expect(await invalidArgument(names('HostInventory', ['cpuNum>four']))).toMatch(/invalid value 'four' for number field 'cpuNum'/);
    expect(await invalidArgument(names('HostInventory', ['cpuNum?=1,x']))).toMatch(/invalid value 'x'/);
    expect(await invalidArgument(names('HostInventory', ['cpuNum~=1%']))).toMatch(/needs a string field/);
  });

  it('rejects bad limit and start', async () => {
    expect(await invalidArgument(names('HostInventory', [], { limit: -1 }))).toMatch(/invalid limit -1: it must be an integer from 0 to 10000/);
    expect(await invalidArgument(names('HostInventory', [], { limit: 10001 }))).toMatch(/invalid limit/);
    expect(await invalidArgument(names('HostInventory', [], { limit: 1.5 }))).toMatch(/invalid limit/);
    expect(await invalidArgument(names('HostInventory', [], { start: -3 }))).toMatch(/invalid start -3/);
  });

  it('rejects an unknown inventory and refuses to run on an unsealed registry', async () => {
    expect(await invalidArgument(executeQuery(t.db, registry, 'RackInventory'))).toMatch(/unknown inventory RackInventory/);
    const open = new InventoryRegistry().register(ClusterInv);
    await expect(executeQuery(t.db, open, 'ClusterInventory')).rejects.toThrow(/must be sealed/);
  });
});
