import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { createCluster, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

/**
 * The query API as ZStack's SDKs use it: q= with every operator, nested fields, tags, count,
 * replyWithCount, paging, sort (both spellings), fields, the by-uuid form, the schema map, and ZQL.
 */
describe.each(testDatabaseKinds())('the query API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const zones: Record<string, any> = {};
  const names = (r: any) => r.inventories.map((x: any) => x.name);
  const get = (path: string, params: Record<string, string | number | boolean | string[]>) => c.call('GET', `${path}${qs(params)}`);

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    // Created one after another so createDate order is name order.
    for (const [name, description, tags] of [['qa-a', 'first', ['gold']], ['qa-b', null, ['silver']], ['qa-c', 'third', ['gold', 'big']], ['qa-d', null, []], ['qa-e', 'fifth', ['bronze']]] as const) {
      zones[name] = await createZone(c, name, description === null ? {} : { description }, { userTags: [...tags] });
      await new Promise((r) => setTimeout(r, 5));
    }
    await c.call('PUT', `/zones/${zones['qa-d'].uuid}/actions`, { changeZoneState: { stateEvent: 'disable' } });
    await createCluster(c, zones['qa-a'].uuid, 'qa-kvm-1');
    await createCluster(c, zones['qa-a'].uuid, 'qa-sim-1', { hypervisorType: 'Simulator' });
    await createCluster(c, zones['qa-c'].uuid, 'qa-kvm-2');
  });
  afterAll(async () => t?.stop());

  const ours = 'name~=qa-%';

  it.each([
    ['=', 'name=qa-b', ['qa-b']],
    ['!=', 'name!=qa-b', ['qa-a', 'qa-c', 'qa-d', 'qa-e']],
    ['?= (in)', 'name?=qa-a,qa-e,nope', ['qa-a', 'qa-e']],
    ['!?= (not in)', 'name!?=qa-a,qa-e', ['qa-b', 'qa-c', 'qa-d']],
    ['~= (like)', 'description~=%ir%', ['qa-a', 'qa-c']],
    ['!~= (not like)', 'description!~=f%', ['qa-c']],
    ['is null', 'description is null', ['qa-b', 'qa-d']],
    ['not null', 'description not null', ['qa-a', 'qa-c', 'qa-e']],
    ['> on a string', 'name>qa-c', ['qa-d', 'qa-e']],
    ['<= on a string', 'name<=qa-b', ['qa-a', 'qa-b']],
    ['= on a boolean', 'isDefault=false', ['qa-a', 'qa-b', 'qa-c', 'qa-d', 'qa-e']],
    ['= on state', 'state=Disabled', ['qa-d']],
  ])('QueryZone with the %s operator', async (_op, q, expected) => {
    const r = await get('/zones', { q: [ours, q], sort: '+name' });
    expect(names(r)).toEqual(expected);
  });

  it('compares dates given as epoch milliseconds', async () => {
    const cDate = Date.parse(zones['qa-c'].createDate);
    expect(Number.isFinite(cDate)).toBe(true);
    const after = await get('/zones', { q: [ours, `createDate>${cDate}`], sort: '+name' });
    expect(names(after)).toEqual(['qa-d', 'qa-e']);
    const upTo = await get('/zones', { q: [ours, `createDate<=${cDate}`], sort: '+name' });
    expect(names(upTo)).toEqual(['qa-a', 'qa-b', 'qa-c']);
  });

  it('ANDs several q= conditions, nested ones included', async () => {
    const r = await get('/zones', { q: [ours, 'cluster.hypervisorType=KVM', '__userTag__=gold'], sort: '+name' });
    expect(names(r)).toEqual(['qa-a', 'qa-c']);
    const sim = await get('/zones', { q: [ours, 'cluster.hypervisorType=Simulator'] });
    expect(names(sim)).toEqual(['qa-a']);
    const byZoneState = await get('/clusters', { q: ['zone.state=Enabled', 'name~=qa-kvm%'], sort: '-name' });
    expect(names(byZoneState)).toEqual(['qa-kvm-2', 'qa-kvm-1']);
    const tagIn = await get('/zones', { q: [ours, '__userTag__?=silver,bronze'], sort: '+name' });
    expect(names(tagIn)).toEqual(['qa-b', 'qa-e']);
  });

  it('pages with limit and start, and counts with count and replyWithCount', async () => {
    const p1 = await get('/zones', { q: ours, sort: '+name', limit: 2, start: 0, replyWithCount: true });
    const p2 = await get('/zones', { q: ours, sort: '+name', limit: 2, start: 2, replyWithCount: true });
    const p3 = await get('/zones', { q: ours, sort: '+name', limit: 2, start: 4 });
    expect([names(p1), names(p2), names(p3)]).toEqual([['qa-a', 'qa-b'], ['qa-c', 'qa-d'], ['qa-e']]);
    expect(p1.total).toBe(5);
    expect(p2.total).toBe(5);
    expect(p3.total).toBeUndefined();
    expect(names(await get('/zones', { q: ours, start: 99 }))).toEqual([]);
    const count = await get('/zones', { q: ours, count: true });
    expect(count.total).toBe(5);
    expect(count.inventories ?? []).toEqual([]);
  });

  it('sorts with sort=+/-field and with sortBy + sortDirection', async () => {
    expect(names(await get('/zones', { q: ours, sort: '-name' }))).toEqual(['qa-e', 'qa-d', 'qa-c', 'qa-b', 'qa-a']);
    expect(names(await get('/zones', { q: ours, sortBy: 'createDate', sortDirection: 'desc' }))).toEqual(['qa-e', 'qa-d', 'qa-c', 'qa-b', 'qa-a']);
    expect(names(await get('/zones', { q: ours, sortBy: 'name', sortDirection: 'asc', limit: 1 }))).toEqual(['qa-a']);
  });

  it('returns only the requested fields', async () => {
    const r = await get('/zones', { q: 'name=qa-c', fields: 'name,description' });
    expect(r.inventories).toEqual([{ name: 'qa-c', description: 'third' }]);
    const two = await c.call('GET', `/clusters?q=name%3Dqa-kvm-2&fields=name&fields=zoneUuid`);
    expect(two.inventories).toEqual([{ name: 'qa-kvm-2', zoneUuid: zones['qa-c'].uuid }]);
  });

  it('answers GET /zones/{uuid} with that zone and the schema map', async () => {
    const r = await c.call('GET', `/zones/${zones['qa-e'].uuid}`);
    expect(names(r)).toEqual(['qa-e']);
    expect(r.inventories[0]).toMatchObject({ uuid: zones['qa-e'].uuid, state: 'Enabled', type: 'zstack', isDefault: false });
    expect(r.inventories[0].createDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    expect(r.schema).toEqual({ 'inventories[0]': 'org.zstack.header.zone.ZoneInventory' });
    const clusters = await get('/clusters', { q: `zoneUuid=${zones['qa-a'].uuid}`, sort: '+name' });
    expect(clusters.schema).toEqual({ 'inventories[0]': 'org.zstack.header.cluster.ClusterInventory', 'inventories[1]': 'org.zstack.header.cluster.ClusterInventory' });
  });

  it('decodes + as a space in q= values, as the SDKs form-encode them', async () => {
    await createZone(c, 'qa space');
    const r = await c.call('GET', '/zones?q=name%3Dqa+space');
    expect(names(r)).toEqual(['qa space']);
  });

  it('queries accounts, tags and global configuration with the same engine', async () => {
    expect(names(await get('/accounts', { q: 'name=admin' }))).toEqual(['admin']);
    const gold = await get('/user-tags', { q: 'tag=gold', sort: '+createDate' });
    expect(gold.inventories.map((x: any) => x.resourceUuid)).toEqual([zones['qa-a'].uuid, zones['qa-c'].uuid]);
    const cfg = await get('/global-configurations', { q: ['category=identity', 'name=session.timeout'] });
    expect(cfg.inventories).toHaveLength(1);
  });

  describe('ZQL', () => {
    const zql = async (text: string) => (await c.call('GET', `/zql${qs({ zql: text })}`)).results;

    it('queries with where, and/or, order by, limit and offset', async () => {
      const r = (await zql("query zone where name like 'qa-%' and (state = 'Disabled' or description = 'first') order by name asc"))[0];
      expect(names(r)).toEqual(['qa-a', 'qa-d']);
      const paged = (await zql("query zone where name like 'qa-%' order by name desc limit 2 offset 1"))[0];
      expect(names(paged)).toEqual(['qa-d', 'qa-c']);
    });

    it('counts, and returns a total along with a page', async () => {
      expect((await zql("count zone where name like 'qa-%'"))[0]).toEqual({ total: 5 });
      const r = (await zql("query zone where name like 'qa-%' return with (total) limit 1"))[0];
      expect(r.total).toBe(5);
      expect(r.inventories).toHaveLength(1);
    });

    it('selects fields and follows nested fields and sub-queries', async () => {
      const fields = (await zql("query zone.name where cluster.hypervisorType = 'Simulator'"))[0];
      expect(fields.inventories).toEqual([{ name: 'qa-a' }]);
      const sub = (await zql("query zone where uuid in (query cluster.zoneUuid where name like 'qa-kvm%') order by name"))[0];
      expect(names(sub)).toEqual(['qa-a', 'qa-c']);
      const notIn = (await zql("query zone where name like 'qa-%' and uuid not in (query cluster.zoneUuid) order by name"))[0];
      expect(names(notIn)).toEqual(['qa-b', 'qa-d', 'qa-e']);
      const nulls = (await zql("query zone where name like 'qa-%' and description is null order by name"))[0];
      expect(names(nulls)).toEqual(['qa-b', 'qa-d']);
    });

    it('runs several statements and names results', async () => {
      const r = await zql("count zone where name like 'qa-%' named as 'zones'; count cluster where name like 'qa-%' named as 'clusters'");
      expect(r).toEqual([{ total: 5, name: 'zones' }, { total: 3, name: 'clusters' }]);
    });

    it('refuses bad ZQL with SYS.1007 and runs none of a batch with one bad statement', async () => {
      const r = await c.send('GET', `/zql${qs({ zql: "count zone; query zone where nosuchfield = 'x'" })}`);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    });
  });
});
