import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors, SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { createTenant } from './support/tenants.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('sharing and ownership changes on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let w: VmWorld;
  let a: { uuid: string; client: TestClient };
  let b: { uuid: string; client: TestClient };
  let c: { uuid: string; client: TestClient };

  const share = (by: TestClient, body: Record<string, unknown>) => by.send('PUT', '/accounts/resources/actions', { shareResource: body });
  const revoke = (by: TestClient, body: Record<string, unknown>) => by.send('PUT', '/accounts/resources/actions', { revokeResourceSharing: body });
  const sees = async (who: TestClient, path: string, uuid: string) => (await who.call('GET', `${path}/${uuid}`)).inventories.length === 1;
  const seesImage = (who: TestClient) => sees(who, '/images', w.image);

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    w = await buildVmWorld(admin, 'share');
    a = await createTenant(t, 'share-a');
    b = await createTenant(t, 'share-b');
    c = await createTenant(t, 'share-c');
  }, 120_000);
  afterAll(async () => t?.stop());

  it('a resource shared with accounts appears for exactly those accounts, in every query form, until revoked', async () => {
    expect([await seesImage(a.client), await seesImage(b.client), await seesImage(c.client)]).toEqual([false, false, false]);
    expect((await share(admin, { resourceUuids: [w.image, w.offering], accountUuids: [a.uuid, b.uuid] })).status).toBe(200);
    expect([await seesImage(a.client), await seesImage(b.client), await seesImage(c.client)]).toEqual([true, true, false]);
    const zqlCount = async (who: TestClient) => (await who.call('GET', `/zql${qs({ zql: `count image where uuid = '${w.image}'` })}`)).results[0].total;
    expect([await zqlCount(a.client), await zqlCount(c.client)]).toEqual([1, 0]);
    expect((await c.client.call('GET', `/images${qs({ q: [`name=${'share-image'}`], count: true })}`)).total).toBe(0);
    // Sharing twice changes nothing; revoking one account leaves the other.
    expect((await share(admin, { resourceUuids: [w.image], accountUuids: [a.uuid] })).status).toBe(200);
    expect((await revoke(admin, { resourceUuids: [w.image], accountUuids: [a.uuid] })).status).toBe(200);
    expect([await seesImage(a.client), await seesImage(b.client)]).toEqual([false, true]);
    // Public: every account, including one made later; revoking the public share leaves account shares.
    expect((await share(admin, { resourceUuids: [w.image], toPublic: true })).status).toBe(200);
    const d = await createTenant(t, 'share-d');
    expect([await seesImage(a.client), await seesImage(c.client), await seesImage(d.client)]).toEqual([true, true, true]);
    expect((await revoke(admin, { resourceUuids: [w.image], toPublic: true })).status).toBe(200);
    expect([await seesImage(a.client), await seesImage(b.client), await seesImage(d.client)]).toEqual([false, true, false]);
    expect((await revoke(admin, { resourceUuids: [w.image, w.offering], all: true })).status).toBe(200);
    expect([await seesImage(b.client), await sees(b.client, '/instance-offerings', w.offering)]).toEqual([false, false]);
  });

  it('a shared resource can be used, not changed, by the accounts it is shared with', async () => {
    await share(admin, { resourceUuids: [w.image, w.offering, w.l3], accountUuids: [a.uuid] });
    const vm = await a.client.send('POST', '/vm-instances', { params: { name: 'a-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } });
    expect(vm.status, vm.text).toBe(200);
    // C, not shared with: the same answer as for an image that does not exist.
    const missing = newUuid();
    const mk = (image: string) => c.client.send('POST', '/vm-instances', { params: { name: 'c-vm', instanceOfferingUuid: w.offering, imageUuid: image, l3NetworkUuids: [w.l3] } });
    const [r1, r2] = [await mk(w.image), await mk(missing)];
    expect(r1.status).toBe(503);
    expect(r1.body.error.code).toBe(r2.body.error.code);
    // A may not rename or delete what is only shared with it: answered as a missing image.
    const upd = await a.client.send('PUT', `/images/${w.image}/actions`, { updateImage: { name: 'mine-now' } });
    const updMissing = await a.client.send('PUT', `/images/${missing}/actions`, { updateImage: { name: 'mine-now' } });
    expect(upd.status).toBe(updMissing.status);
    expect(upd.body.error?.code).toBe(updMissing.body.error?.code);
    expect((await admin.call('GET', `/images/${w.image}`)).inventories[0].name).toBe('share-image');
    // A tenant shares only what it owns; another's resource is not found, an unknown account is not found.
    expect((await share(a.client, { resourceUuids: [w.image], accountUuids: [c.uuid] })).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await share(admin, { resourceUuids: [w.image], accountUuids: [newUuid()] })).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    const sg = (await a.client.call('POST', '/security-groups', { params: { name: 'a-sg' } })).inventory;
    expect((await share(a.client, { resourceUuids: [sg.uuid], accountUuids: [c.uuid] })).body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    await revoke(admin, { resourceUuids: [w.image, w.offering, w.l3], all: true });
  });

  it('ChangeResourceOwner gives a resource, with what goes with it, to another account', async () => {
    await share(admin, { resourceUuids: [w.image, w.offering, w.l3], accountUuids: [b.uuid] });
    const vm = (await b.client.call('POST', '/vm-instances', { params: { name: 'b-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory;
    expect((await b.client.send('POST', `/account/${c.uuid}/resources`, { params: { resourceUuid: vm.uuid } })).body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
    const ref = (await admin.call('POST', `/account/${c.uuid}/resources`, { params: { resourceUuid: vm.uuid } })).inventory;
    expect(ref).toMatchObject({ resourceUuid: vm.uuid, accountUuid: c.uuid, resourceType: 'VmInstanceVO' });
    expect([await sees(b.client, '/vm-instances', vm.uuid), await sees(c.client, '/vm-instances', vm.uuid)]).toEqual([false, true]);
    expect(await sees(c.client, '/volumes', vm.rootVolumeUuid)).toBe(true); // the root volume goes with its VM
    expect(await sees(b.client, '/volumes', vm.rootVolumeUuid)).toBe(false);
    expect((await b.client.call('GET', `/vm-instances/nics${qs({ q: [`vmInstanceUuid=${vm.uuid}`] })}`)).inventories).toEqual([]);
    expect((await c.client.call('PUT', `/vm-instances/${vm.uuid}/actions`, { updateVmInstance: { name: 'c-owns-it' } })).inventory.name).toBe('c-owns-it');
    expect((await b.client.send('PUT', `/vm-instances/${vm.uuid}/actions`, { updateVmInstance: { name: 'b-again' } })).status).toBe(503);
    // The VM's quota charges went along with it.
    const used = async (account: string, name: string) => (await admin.call('GET', `/accounts/quota/${account}/usages`)).usages.find((u: any) => u.name === name).used;
    await waitFor('the charges move to the new owner', async () => (await used(c.uuid, 'vm.totalNum')) === 1 && (await used(b.uuid, 'vm.totalNum')) === 0);
    expect([await used(c.uuid, 'vm.num'), await used(c.uuid, 'vm.cpuNum'), await used(b.uuid, 'vm.num'), await used(b.uuid, 'vm.cpuNum')]).toEqual([1, 2, 0, 0]);
    expect((await admin.send('POST', `/account/${newUuid()}/resources`, { params: { resourceUuid: vm.uuid } })).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await admin.send('POST', `/account/${c.uuid}/resources`, { params: { resourceUuid: newUuid() } })).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });
});
