import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { createTenant } from './support/tenants.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/** What one tenant made: a VM (with its root volume and NIC), a data volume, a snapshot, a security group, a VIP with an EIP on the NIC, an image, a user tag. */
interface Made {
  vm: any;
  volume: any;
  sg: any;
  tag: any;
  vip: any;
  eip: any;
  snapshot: any;
  image: any;
  uuids: string[];
}

const uuidsOf = (body: any): string[] => (body.inventories ?? []).map((i: any) => i.uuid ?? i.resourceUuid);

describe.each(testDatabaseKinds())('tenant isolation in every read and action on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let w: VmWorld;
  let a: { uuid: string; client: TestClient };
  let b: { uuid: string; client: TestClient };
  let madeA: Made;
  let madeB: Made;
  let publicL3: string;

  const make = async (c: TestClient, who: string): Promise<Made> => {
    const vm = (await c.call('POST', '/vm-instances', { params: { name: `${who}-vm`, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory;
    const volume = (await c.call('POST', '/volumes/data', { params: { name: `${who}-vol`, diskOfferingUuid: w.diskOffering } })).inventory;
    const sg = (await c.call('POST', '/security-groups', { params: { name: `${who}-sg` } })).inventory;
    const tag = (await c.call('POST', '/user-tags', { params: { resourceUuid: vm.uuid, resourceType: 'VmInstanceVO', tag: `${who}-secret-tag` } })).inventory;
    const nics = (await c.call('GET', `/vm-instances/nics${qs({ q: [`vmInstanceUuid=${vm.uuid}`] })}`)).inventories;
    const vip = (await c.call('POST', '/vips', { params: { name: `${who}-vip`, l3NetworkUuid: publicL3 } })).inventory;
    const eip = (await c.call('POST', '/eips', { params: { name: `${who}-eip`, vipUuid: vip.uuid, vmNicUuid: nics[0].uuid } })).inventory;
    const snapshot = (await c.call('POST', `/volumes/${vm.rootVolumeUuid}/volume-snapshots`, { params: { name: `${who}-snap` } })).inventory;
    const image = (await c.call('POST', '/images', { params: { name: `${who}-image`, url: `http://images.example/${who}.qcow2?size=1048576`, format: 'qcow2', backupStorageUuids: [w.backupStorage] } })).inventory;
    return { vm, volume, sg, tag, vip, eip, snapshot, image, uuids: [vm.uuid, vm.rootVolumeUuid, volume.uuid, sg.uuid, tag.uuid, vip.uuid, eip.uuid, snapshot.uuid, image.uuid, ...nics.map((n: any) => n.uuid)] };
  };

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    w = await buildVmWorld(admin, 'iso');
    // Tenants use the administrator's image, network and offerings once they are shared with everyone.
    publicL3 = (await admin.call('POST', '/l3-networks', { params: { name: 'iso-public', l2NetworkUuid: w.l2, category: 'Public' } })).inventory.uuid;
    await admin.call('POST', `/l3-networks/${publicL3}/ip-ranges`, { params: { name: 'pub', startIp: '198.18.0.10', endIp: '198.18.0.50', netmask: '255.255.255.0', gateway: '198.18.0.1' } });
    await admin.call('PUT', '/accounts/resources/actions', { shareResource: { resourceUuids: [w.image, w.l3, w.offering, w.diskOffering, publicL3], toPublic: true } });
    a = await createTenant(t, 'tenant-a');
    b = await createTenant(t, 'tenant-b');
    madeA = await make(a.client, 'a');
    madeB = await make(b.client, 'b');
  }, 120_000);
  afterAll(async () => t?.stop());

  it('records the owner of what each tenant creates, children going with their parent', async () => {
    const refs = uuidsOf(await a.client.call('GET', '/accounts/resources/refs'));
    expect(refs).toEqual(expect.arrayContaining([madeA.vm.uuid, madeA.volume.uuid, madeA.sg.uuid]));
    expect(refs.some((u) => madeB.uuids.includes(u))).toBe(false);
    expect(madeA.uuids.length).toBeGreaterThanOrEqual(10); // the NIC is visible to its VM's owner
    expect((await a.client.call('GET', `/volumes/${madeA.vm.rootVolumeUuid}`)).inventories).toHaveLength(1);
    // Children made by the create get the same owner row (so they stay the tenant's once detached).
    await waitFor('the VM\'s volume and NIC get owner rows', async () => {
      const mine = uuidsOf(await a.client.call('GET', '/accounts/resources/refs'));
      return mine.includes(madeA.vm.rootVolumeUuid) && madeA.uuids.filter((u) => !mine.includes(u)).length <= 1; // only the tag has none
    });
  });

  it('no query API shows a tenant anything of another tenant (plain, count, sort by a field, fields)', async () => {
    const queries = apiCatalog.filter((api) => api.query && !api.adminOnly && !api.path.includes('{') && t.node.ctx.inventories.find(api.query.inventory));
    expect(queries.length).toBeGreaterThan(20);
    for (const api of queries) {
      for (const [me, other] of [[a, madeB], [b, madeA]] as const) {
        const all = await me.client.send('GET', api.path);
        expect(all.status, `${api.name}: ${all.text}`).toBe(200);
        const seen = JSON.stringify(all.body);
        for (const u of other.uuids) expect(seen.includes(u), `${api.name} shows another tenant's ${u}`).toBe(false);
        const count = await me.client.call('GET', `${api.path}${qs({ count: true })}`);
        expect(count.total, `${api.name} count`).toBe(all.body.inventories.length);
        const sorted = await me.client.call('GET', `${api.path}${qs({ sort: '-createDate', fields: ['createDate'] })}`).catch(() => undefined);
        if (sorted) expect(sorted.inventories.length, `${api.name} sorted`).toBe(all.body.inventories.length);
      }
    }
  });

  it('conditions, nested fields, tags and ZQL cannot find or probe another tenant\'s resources', async () => {
    const c = a.client;
    const empty = async (path: string) => expect((await c.call('GET', path)).inventories, path).toEqual([]);
    await empty(`/vm-instances/${madeB.vm.uuid}`);
    await empty(`/vm-instances${qs({ q: [`name=${madeB.vm.name}`] })}`);
    await empty(`/vm-instances${qs({ q: [`uuid=${madeB.vm.uuid}`] })}`);
    await empty(`/vm-instances${qs({ q: [`__userTag__=b-secret-tag`] })}`);
    await empty(`/user-tags${qs({ q: [`resourceUuid=${madeB.vm.uuid}`] })}`);
    await empty(`/volumes${qs({ q: [`vmInstanceUuid=${madeB.vm.uuid}`] })}`);
    await empty(`/vm-instances/nics${qs({ q: [`vmInstanceUuid=${madeB.vm.uuid}`] })}`);
    // A's own VM with a condition on a nested field that only B's rows would satisfy: no answer leaks B's names.
    await empty(`/vm-instances${qs({ q: [`allVolumes.name=${madeB.volume.name}`] })}`);
    await empty(`/vm-instances${qs({ q: [`rootVolume.uuid=${madeB.vm.rootVolumeUuid}`] })}`);
    await empty(`/vm-instances${qs({ q: ['host.name~=%'] })}`); // hosts are the administrator's: not even A's VM matches through them
    expect((await c.call('GET', `/vm-instances${qs({ q: [`image.uuid=${w.image}`] })}`)).inventories.map((v: any) => v.uuid)).toEqual([madeA.vm.uuid]); // shared: reachable
    const zql = async (text: string) => (await c.call('GET', `/zql${qs({ zql: text })}`)).results;
    expect((await zql(`query vminstance where name = '${madeB.vm.name}'`))[0].inventories).toEqual([]);
    expect((await zql('count vminstance'))[0].total).toBe(1);
    expect((await zql(`query vminstance where uuid in (query volume.vmInstanceUuid where name = '${madeB.vm.name}')`))[0].inventories).toEqual([]);
    expect((await zql(`count volume where vmInstanceUuid = '${madeB.vm.uuid}'`))[0].total).toBe(0);
    expect((await zql('query vminstance return with (total)'))[0]).toMatchObject({ total: 1 });
    // A session uuid is a credential: no tenant reads sessions, not even its own account's.
    const sessions = (await zql('query session'))[0].inventories;
    expect(sessions).toEqual([]);
    expect(JSON.stringify(await zql('query session')).includes(c.session)).toBe(false);
    expect((await zql('count session'))[0].total).toBe(0);
    const adminSessions = (await admin.call('GET', `/zql${qs({ zql: 'query session' })}`)).results[0].inventories.map((s: any) => s.uuid);
    expect(adminSessions).toContain(c.session);
    // Reads answered by a service rather than the query engine are filtered too.
    const candidates = (await c.call('GET', `/vm-instances/${madeA.vm.uuid}/data-volume-candidates`)).inventories.map((v: any) => v.uuid);
    expect(candidates).toContain(madeA.volume.uuid);
    expect(candidates).not.toContain(madeB.volume.uuid);
    expect((await admin.call('GET', `/vm-instances/${madeA.vm.uuid}/data-volume-candidates`)).inventories.map((v: any) => v.uuid)).toEqual(expect.arrayContaining([madeA.volume.uuid, madeB.volume.uuid]));
    // The administrator still sees everything.
    expect((await admin.call('GET', `/vm-instances${qs({ count: true })}`)).total).toBe(2);
  });

  it('a tenant polling another account\'s api job gets the answer for an unknown job', async () => {
    const started = await a.client.raw('POST', '/security-groups', { params: { name: 'a-polled-sg' } });
    expect(started.status).toBe(202);
    const location: string = started.body.location;
    const jobUuid = location.split('/').at(-1)!;
    const missing = newUuid();
    const pollAs = async (c: TestClient, url: string) => {
      const r = await fetch(url, { headers: { Authorization: `OAuth ${c.session}` } });
      return { status: r.status, text: await r.text() };
    };
    const byB = await pollAs(b.client, location);
    const unknown = await pollAs(b.client, location.replace(jobUuid, missing));
    expect(byB.status).toBe(404);
    expect(byB.text.replace(jobUuid, 'U')).toBe(unknown.text.replace(missing, 'U'));
    expect((await a.client.poll(location)).body.inventory.name).toBe('a-polled-sg');
    expect((await admin.poll(location)).status).toBe(200);
  });

  it('acting on another tenant\'s resource answers exactly as acting on a uuid that does not exist', async () => {
    const c = a.client;
    const same = async (method: string, path: (u: string) => string, body: (u: string) => unknown, foreign: string) => {
      const missing = newUuid();
      const r1 = await c.send(method, path(foreign), body(foreign));
      const r2 = await c.send(method, path(missing), body(missing));
      expect(r1.status, `${method} ${path('{uuid}')}`).toBe(r2.status);
      expect(JSON.stringify(r1.body).split(foreign).join('U'), `${method} ${path('{uuid}')}`).toBe(JSON.stringify(r2.body).split(missing).join('U'));
    };
    await same('PUT', (u) => `/vm-instances/${u}/actions`, () => ({ updateVmInstance: { name: 'stolen' } }), madeB.vm.uuid);
    await same('PUT', (u) => `/vm-instances/${u}/actions`, () => ({ stopVmInstance: {} }), madeB.vm.uuid);
    await same('DELETE', (u) => `/vm-instances/${u}`, () => undefined, madeB.vm.uuid);
    await same('DELETE', (u) => `/security-groups/${u}`, () => undefined, madeB.sg.uuid);
    await same('DELETE', (u) => `/volumes/${u}`, () => undefined, madeB.vm.rootVolumeUuid);
    await same('DELETE', (u) => `/tags/${u}`, () => undefined, madeB.tag.uuid);
    await same('DELETE', (u) => `/eips/${u}`, () => undefined, madeB.eip.uuid);
    await same('DELETE', (u) => `/vips/${u}`, () => undefined, madeB.vip.uuid);
    await same('DELETE', (u) => `/volume-snapshots/${u}`, () => undefined, madeB.snapshot.uuid);
    await same('PUT', (u) => `/images/${u}/actions`, () => ({ updateImage: { name: 'stolen' } }), madeB.image.uuid);
    const spareVip = (await c.call('POST', '/vips', { params: { name: 'a-spare-vip', l3NetworkUuid: publicL3 } })).inventory;
    await same('POST', () => '/eips', (u) => ({ params: { name: 'steal', vipUuid: spareVip.uuid, vmNicUuid: u } }), madeB.uuids.at(-1)!);
    await same('POST', () => '/volumes/data', (u) => ({ params: { name: 'from-b', diskOfferingUuid: u } }), madeB.volume.uuid);
    await same('POST', () => '/user-tags', (u) => ({ params: { resourceUuid: u, resourceType: 'VmInstanceVO', tag: 'mine' } }), madeB.vm.uuid);
    // Choosing the uuid of B's root volume for a new resource would make A its owner: refused.
    const squat = await c.send('POST', '/security-groups', { params: { name: 'squatter', resourceUuid: madeB.vm.rootVolumeUuid } });
    expect(squat.body.error?.details ?? squat.text).toContain('already used');
    expect((await c.call('GET', `/volumes/${madeB.vm.rootVolumeUuid}`)).inventories).toEqual([]);
    const chosen = newUuid();
    expect((await c.call('POST', '/security-groups', { params: { name: 'chosen', resourceUuid: chosen } })).inventory.uuid).toBe(chosen);
    // So is choosing it for a user (or group, policy, key): a row naming A's account would make it A's too.
    for (const taken of [madeB.vm.rootVolumeUuid, w.zone]) {
      const user = await c.send('POST', '/accounts/users', { params: { name: `squatter-${taken.slice(0, 6)}`, password: 'f'.repeat(128), resourceUuid: taken } });
      expect(user.body.error?.details ?? user.text).toContain('already used');
    }
    // Nothing of B's changed.
    const vm = (await b.client.call('GET', `/vm-instances/${madeB.vm.uuid}`)).inventories[0];
    expect(vm).toMatchObject({ name: 'b-vm', state: 'Running' });
    expect((await b.client.call('GET', `/security-groups/${madeB.sg.uuid}`)).inventories).toHaveLength(1);
    expect((await b.client.call('GET', `/user-tags/${madeB.tag.uuid}`)).inventories).toHaveLength(1);
    for (const [path, uuid] of [['/eips', madeB.eip.uuid], ['/vips', madeB.vip.uuid], ['/volume-snapshots', madeB.snapshot.uuid], ['/images', madeB.image.uuid]]) {
      expect((await b.client.call('GET', `${path}/${uuid}`)).inventories, path).toHaveLength(1);
    }
    expect((await b.client.call('GET', `/images/${madeB.image.uuid}`)).inventories[0].name).toBe('b-image');
    // The owner still can.
    expect((await b.client.call('PUT', `/vm-instances/${madeB.vm.uuid}/actions`, { updateVmInstance: { name: 'b-vm' } })).inventory.name).toBe('b-vm');
  });

  it('a resource nobody owns through an API (made by the system, or before owners were recorded) is the administrator\'s', async () => {
    const orphan = (await admin.call('POST', '/security-groups', { params: { name: 'system-sg' } })).inventory;
    await t.node.ctx.db.deleteFrom('account_resource_ref').where('resourceUuid', '=', orphan.uuid).execute();
    const missing = newUuid();
    const r1 = await a.client.send('PUT', `/security-groups/${orphan.uuid}/actions`, { updateSecurityGroup: { name: 'taken' } });
    const r2 = await a.client.send('PUT', `/security-groups/${missing}/actions`, { updateSecurityGroup: { name: 'taken' } });
    expect(r1.status).toBe(r2.status);
    expect(JSON.stringify(r1.body).split(orphan.uuid).join('U')).toBe(JSON.stringify(r2.body).split(missing).join('U'));
    await a.client.send('DELETE', `/security-groups/${orphan.uuid}`);
    expect((await admin.call('GET', `/security-groups/${orphan.uuid}`)).inventories[0]).toMatchObject({ name: 'system-sg' });
  });
});
