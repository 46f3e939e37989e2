import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterZonePersisted, ZoneLifecyclePoint, type CreateZoneCtx } from '../src/contracts/zone.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { StratoError, SysErrors } from '../src/core/errors/index.ts';
import { noRollback, type FlowStep } from '../src/core/flow/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { countRows, createCluster, createZone } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

/** A plugin's own error code: it must reach the API caller unchanged. */
const PLUGIN_ERROR = { code: 'TESTPLUGIN.4242', description: 'the test plugin refused' };

/**
 * Test-only plugin: vetoes deleting zones named `vetoed…`, fails creating zones named `fail-step…`
 * after their row and tags exist, and declares an `xtag::{v}` system tag for zones.
 */
const zoneTestPlugin: ServiceModule = {
  id: 'test.zone-plugin',
  setup(ctx) {
    ctx.extensions.registerObserver(ZoneLifecyclePoint, {
      preDelete(zone) {
        if (zone.name.startsWith('vetoed')) throw new StratoError(SysErrors.OPERATION_ERROR, `zone ${zone.name} is protected by the test plugin`);
      },
    }, { by: 'test.zone-plugin' });
    const failingStep: FlowStep<CreateZoneCtx> = {
      name: 'test.fail-after-persisted',
      run(c) {
        if (c.name.startsWith('fail-step')) throw new StratoError(PLUGIN_ERROR, `refusing zone ${c.name}`);
      },
      rollback: noRollback,
    };
    ctx.flows.insert(AfterZonePersisted, failingStep);
    ctx.systemTags.define({ pattern: 'xtag::{v}', resourceType: 'ZoneVO' });
  },
};

describe.each(testDatabaseKinds())('zones and clusters through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const db = () => t.node.ctx.db;
  const tagsOf = async (uuid: string) => ({
    user: (await db().selectFrom('user_tag').select('tag').where('resourceUuid', '=', uuid).execute()).map((r) => r.tag),
    system: (await db().selectFrom('system_tag').select('tag').where('resourceUuid', '=', uuid).execute()).map((r) => r.tag),
  });

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [zoneTestPlugin] });
    c = await t.login();
  });
  afterAll(async () => t?.stop());

  describe('create', () => {
    it('creates a zone with the client-chosen resourceUuid and user tags that are queryable', async () => {
      const uuid = newUuid();
      const zone = await createZone(c, 'zc-create', { description: 'first' }, { userTags: ['prod', 'owner=ops'] });
      expect(zone).toMatchObject({ name: 'zc-create', description: 'first', state: 'Enabled' });
      const withUuid = await createZone(c, 'zc-uuid', { resourceUuid: uuid });
      expect(withUuid.uuid).toBe(uuid);
      expect((await tagsOf(zone.uuid)).user.sort()).toEqual(['owner=ops', 'prod']);
      const q = await c.call('GET', `/user-tags?q=${encodeURIComponent(`resourceUuid=${zone.uuid}`)}`);
      expect(q.inventories.map((x: any) => x.tag).sort()).toEqual(['owner=ops', 'prod']);
      expect(q.inventories.every((x: any) => x.resourceType === 'ZoneVO')).toBe(true);
    });

    it('refuses a resourceUuid that is already taken and creates nothing', async () => {
      const zone = await createZone(c, 'zc-taken');
      const before = await countRows(db());
      const r = await c.send('POST', '/zones', { params: { name: 'zc-taken-2', resourceUuid: zone.uuid } });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
      expect(await countRows(db())).toEqual(before);
    });

    it('refuses system tags that match no declared pattern, before anything is written', async () => {
      const before = await countRows(db());
      const r = await c.send('POST', '/zones', { params: { name: 'zc-badtag' }, systemTags: ['nosuchpattern::1'], userTags: ['would-be'] });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
      expect(r.body.error.details).toContain('nosuchpattern::1');
      const cl = await c.send('POST', '/clusters', { params: { zoneUuid: (await createZone(c, 'zc-badtag-parent')).uuid, name: 'c', hypervisorType: 'KVM' }, systemTags: ['xtag::1'] });
      expect(cl.status).toBe(503); // xtag is declared for ZoneVO only
      expect(cl.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
      const after = await countRows(db());
      expect(after).toEqual({ ...before, zone: before.zone + 1 });
    });

    it('creates a cluster in a zone, with tags, and refuses one in a zone that does not exist', async () => {
      const zone = await createZone(c, 'zc-parent');
      const cl = await createCluster(c, zone.uuid, 'zc-cluster', { architecture: 'x86_64' }, { userTags: ['rack1'] });
      expect(cl).toMatchObject({ zoneUuid: zone.uuid, name: 'zc-cluster', hypervisorType: 'KVM', state: 'Enabled', type: 'zstack', architecture: 'x86_64' });
      expect((await tagsOf(cl.uuid)).user).toEqual(['rack1']);
      const before = await countRows(db());
      const r = await c.send('POST', '/clusters', { params: { zoneUuid: newUuid(), name: 'orphan', hypervisorType: 'KVM' }, userTags: ['x'] });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
      expect(await countRows(db())).toEqual(before);
    });
  });

  describe('update and state', () => {
    it('updates a zone and a cluster and keeps fields that were not sent', async () => {
      const zone = await createZone(c, 'zc-upd', { description: 'old' });
      const upd = await c.call('PUT', `/zones/${zone.uuid}/actions`, { updateZone: { name: 'zc-upd-new' } });
      expect(upd.inventory).toMatchObject({ uuid: zone.uuid, name: 'zc-upd-new', description: 'old' });
      const cl = await createCluster(c, zone.uuid, 'zc-upd-c');
      const updC = await c.call('PUT', `/clusters/${cl.uuid}/actions`, { updateCluster: { description: 'now described' } });
      expect(updC.inventory).toMatchObject({ name: 'zc-upd-c', description: 'now described' });
      const row = await db().selectFrom('zone').selectAll().where('uuid', '=', zone.uuid).executeTakeFirstOrThrow();
      expect(row.name).toBe('zc-upd-new');
    });

    it('moves the default flag to the zone made default', async () => {
      const a = await createZone(c, 'zc-def-a', { isDefault: true });
      const b = await createZone(c, 'zc-def-b');
      await c.call('PUT', `/zones/${b.uuid}/actions`, { updateZone: { isDefault: true } });
      const rows = await c.call('GET', `/zones?q=isDefault=true`);
      expect(rows.inventories.map((z: any) => z.uuid)).toEqual([b.uuid]);
      expect(rows.inventories.map((z: any) => z.uuid)).not.toContain(a.uuid);
    });

    it('refuses to create a cluster in a Disabled zone and allows it again once enabled', async () => {
      const zone = await createZone(c, 'zc-state');
      const disabled = await c.call('PUT', `/zones/${zone.uuid}/actions`, { changeZoneState: { stateEvent: 'disable' } });
      expect(disabled.inventory.state).toBe('Disabled');
      const before = await countRows(db());
      const r = await c.send('POST', '/clusters', { params: { zoneUuid: zone.uuid, name: 'nope', hypervisorType: 'KVM' }, userTags: ['t'] });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.OPERATION_ERROR.code);
      expect(r.body.error.details).toContain('Disabled');
      expect(await countRows(db())).toEqual(before);
      await c.call('PUT', `/zones/${zone.uuid}/actions`, { changeZoneState: { stateEvent: 'enable' } });
      expect((await createCluster(c, zone.uuid, 'yes')).zoneUuid).toBe(zone.uuid);
    });

    it('changes the state of a cluster', async () => {
      const zone = await createZone(c, 'zc-cstate');
      const cl = await createCluster(c, zone.uuid, 'zc-cstate-c');
      const r = await c.call('PUT', `/clusters/${cl.uuid}/actions`, { changeClusterState: { stateEvent: 'disable' } });
      expect(r.inventory.state).toBe('Disabled');
      expect((await c.call('GET', `/clusters/${cl.uuid}`)).inventories[0].state).toBe('Disabled');
    });

    it('answers SYS.1003 when updating a zone that does not exist', async () => {
      const r = await c.send('PUT', `/zones/${newUuid()}/actions`, { updateZone: { name: 'ghost' } });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    });
  });

  describe('delete with cascade', () => {
    async function zoneWithClusters(name: string) {
      const zone = await createZone(c, name, {}, { userTags: [`${name}-tag`], systemTags: ['xtag::d'] });
      const c1 = await createCluster(c, zone.uuid, `${name}-c1`, {}, { userTags: ['c1-tag'] });
      const c2 = await createCluster(c, zone.uuid, `${name}-c2`, {}, { userTags: ['c2-tag'] });
      return { zone, clusters: [c1, c2] };
    }
    const exists = async (table: string, uuid: string) => !!(await db().selectFrom(table).select('uuid').where('uuid', '=', uuid).executeTakeFirst());

    it('deleting a zone removes its clusters and the tags of both', async () => {
      const { zone, clusters } = await zoneWithClusters('zc-del');
      const r = await c.send('DELETE', `/zones/${zone.uuid}?deleteMode=Permissive`);
      expect(r.status).toBe(200);
      expect(await exists('zone', zone.uuid)).toBe(false);
      for (const cl of clusters) {
        expect(await exists('cluster', cl.uuid)).toBe(false);
        expect(await tagsOf(cl.uuid)).toEqual({ user: [], system: [] });
      }
      expect(await tagsOf(zone.uuid)).toEqual({ user: [], system: [] });
    });

    it('a veto on zone preDelete blocks a Permissive delete and nothing is deleted', async () => {
      const { zone, clusters } = await zoneWithClusters('vetoed-zone');
      const before = await countRows(db());
      const r = await c.send('DELETE', `/zones/${zone.uuid}?deleteMode=Permissive`);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.DELETE_RESOURCE_ERROR.code);
      expect(JSON.stringify(r.body.error)).toContain('protected by the test plugin');
      expect(await countRows(db())).toEqual(before);
      expect(await exists('zone', zone.uuid)).toBe(true);
      for (const cl of clusters) expect(await exists('cluster', cl.uuid)).toBe(true);
      expect((await tagsOf(zone.uuid)).user).toEqual(['vetoed-zone-tag']);
    });

    it('an Enforcing delete goes through the veto and removes everything', async () => {
      const { zone, clusters } = await zoneWithClusters('vetoed-forced');
      const r = await c.send('DELETE', `/zones/${zone.uuid}?deleteMode=Enforcing`);
      expect(r.status).toBe(200);
      expect(await exists('zone', zone.uuid)).toBe(false);
      for (const cl of clusters) expect(await exists('cluster', cl.uuid)).toBe(false);
      expect(await tagsOf(zone.uuid)).toEqual({ user: [], system: [] });
    });

    it('deleting a cluster leaves its zone; deleting something already gone succeeds', async () => {
      const { zone, clusters } = await zoneWithClusters('zc-delc');
      expect((await c.send('DELETE', `/clusters/${clusters[0].uuid}`)).status).toBe(200);
      expect(await exists('cluster', clusters[0].uuid)).toBe(false);
      expect(await tagsOf(clusters[0].uuid)).toEqual({ user: [], system: [] });
      expect(await exists('cluster', clusters[1].uuid)).toBe(true);
      expect(await exists('zone', zone.uuid)).toBe(true);
      expect((await c.send('DELETE', `/clusters/${clusters[0].uuid}`)).status).toBe(200);
      expect((await c.send('DELETE', `/zones/${newUuid()}`)).status).toBe(200);
    });
  });

  describe('query', () => {
    let z1: any;
    let z2: any;
    beforeAll(async () => {
      z1 = await createZone(c, 'qz1', { description: 'alpha' }, { userTags: ['prod'], systemTags: ['xtag::yes'] });
      z2 = await createZone(c, 'qz2', { description: 'beta' }, { userTags: ['dev'] });
      await createCluster(c, z1.uuid, 'qc1');
      await createCluster(c, z1.uuid, 'qc2');
      await createCluster(c, z2.uuid, 'qc3');
    });

    it('QueryCluster by a nested zone field', async () => {
      const r = await c.call('GET', `/clusters?q=${encodeURIComponent('zone.name=qz1')}&sort=%2Bname`);
      expect(r.inventories.map((x: any) => x.name)).toEqual(['qc1', 'qc2']);
    });

    it('QueryZone by a nested cluster field', async () => {
      const r = await c.call('GET', `/zones?q=${encodeURIComponent('cluster.name=qc3')}`);
      expect(r.inventories.map((x: any) => x.uuid)).toEqual([z2.uuid]);
    });

    it('filters by user tag and by system tag pattern', async () => {
      const byUser = await c.call('GET', `/zones?q=${encodeURIComponent('__userTag__=prod')}&q=${encodeURIComponent('name~=qz%')}`);
      expect(byUser.inventories.map((x: any) => x.uuid)).toEqual([z1.uuid]);
      const bySystem = await c.call('GET', `/zones?q=${encodeURIComponent('__systemTag__~=xtag::y%')}&q=name~=qz%25`);
      expect(bySystem.inventories.map((x: any) => x.uuid)).toEqual([z1.uuid]);
      const none = await c.call('GET', `/zones?q=${encodeURIComponent('__userTag__=nobody-has-this')}`);
      expect(none.inventories).toEqual([]);
    });

    it('answers fields, sort, paging and count', async () => {
      const page = await c.call('GET', `/zones?q=${encodeURIComponent('name~=qz%')}&fields=uuid,name&sort=-name&limit=1&start=1&replyWithCount=true`);
      expect(page.inventories).toEqual([{ uuid: z1.uuid, name: 'qz1' }]);
      expect(page.total).toBe(2);
      const count = await c.call('GET', `/clusters?q=${encodeURIComponent(`zoneUuid=${z1.uuid}`)}&count=true`);
      expect(count.total).toBe(2);
      const byUuid = await c.call('GET', `/zones/${z2.uuid}`);
      expect(byUuid.inventories.map((x: any) => x.name)).toEqual(['qz2']);
    });

    it('runs ZQL: query, count, return with total, order by, limit, and a sub-query', async () => {
      const zql = async (text: string) => (await c.call('GET', `/zql?zql=${encodeURIComponent(text)}`)).results;
      expect((await zql("query zone where name='qz1'"))[0].inventories.map((x: any) => x.uuid)).toEqual([z1.uuid]);
      expect((await zql("count zone where name like 'qz%'"))[0].total).toBe(2);
      const withTotal = (await zql("query zone where name like 'qz%' return with (total) order by name desc limit 1"))[0];
      expect(withTotal.total).toBe(2);
      expect(withTotal.inventories.map((x: any) => x.name)).toEqual(['qz2']);
      const sub = (await zql("query zone where uuid in (query cluster.zoneUuid where name='qc3')"))[0];
      expect(sub.inventories.map((x: any) => x.uuid)).toEqual([z2.uuid]);
      const two = await zql("query zone.name where name='qz1'; count cluster where zoneUuid='" + z1.uuid + "'");
      expect(two).toHaveLength(2);
      expect(two[1].total).toBe(2);
    });
  });

  describe('a failing plugin step', () => {
    it('makes CreateZone fail with its own code and leaves no zone row and no tags', async () => {
      const before = await countRows(db());
      const first = await c.raw('POST', '/zones', { params: { name: 'fail-step-zone' }, userTags: ['doomed'], systemTags: ['xtag::doomed'] });
      expect(first.status).toBe(202);
      const done = await c.poll(first.body.location);
      expect(done.status).toBe(503);
      const codes = [done.body.error.code, done.body.error.cause?.code];
      expect(codes).toContain(PLUGIN_ERROR.code);
      expect(await countRows(db())).toEqual(before);
      expect(await db().selectFrom('zone').select('uuid').where('name', '=', 'fail-step-zone').execute()).toEqual([]);
      expect(await db().selectFrom('user_tag').select('uuid').where('tag', '=', 'doomed').execute()).toEqual([]);
    });
  });
});
