import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { createTenant } from './support/tenants.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('deleting an account removes what it owns on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const count = async (table: string, column: string, value: string) => Number((await db().selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where(column, '=', value).executeTakeFirstOrThrow()).n);

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    w = await buildVmWorld(admin, 'del');
    await admin.call('PUT', '/accounts/resources/actions', { shareResource: { resourceUuids: [w.image, w.l3, w.offering, w.diskOffering], toPublic: true } });
  }, 120_000);
  afterAll(async () => t?.stop());

  it('removes its VMs (with their volumes and NICs), data volumes, security groups and images, its shares, owner rows and quotas; other accounts keep theirs', async () => {
    const a = await createTenant(t, 'doomed');
    const b = await createTenant(t, 'survivor');
    const made = async (c: TestClient, who: string) => ({
      vm: (await c.call('POST', '/vm-instances', { params: { name: `${who}-vm`, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory,
      volume: (await c.call('POST', '/volumes/data', { params: { name: `${who}-vol`, diskOfferingUuid: w.diskOffering } })).inventory,
      sg: (await c.call('POST', '/security-groups', { params: { name: `${who}-sg` } })).inventory,
      image: (await c.call('POST', '/images', { params: { name: `${who}-image`, url: `http://images.example/${who}.qcow2?size=1048576`, format: 'qcow2', backupStorageUuids: [w.backupStorage] } })).inventory,
    });
    const mine = await made(a.client, 'doomed');
    const theirs = await made(b.client, 'survivor');
    await a.client.call('PUT', '/accounts/resources/actions', { shareResource: { resourceUuids: [mine.image.uuid], accountUuids: [b.uuid] } });
    await b.client.call('PUT', '/accounts/resources/actions', { shareResource: { resourceUuids: [theirs.image.uuid], accountUuids: [a.uuid] } });
    await a.client.call('GET', '/accounts/quotas');
    expect(await count('account_resource_ref', 'accountUuid', a.uuid)).toBeGreaterThanOrEqual(4);

    const deleted = await admin.send('DELETE', `/accounts/${a.uuid}`);
    expect(deleted.status, deleted.text).toBe(200);

    expect(await db().selectFrom('vm_instance').select('uuid').where('uuid', '=', mine.vm.uuid).executeTakeFirst()).toBeUndefined();
    expect(await db().selectFrom('volume').select('uuid').where('uuid', 'in', [mine.vm.rootVolumeUuid, mine.volume.uuid]).execute()).toEqual([]);
    expect(await db().selectFrom('vm_nic').select('uuid').where('vmInstanceUuid', '=', mine.vm.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('security_group').select('uuid').where('uuid', '=', mine.sg.uuid).executeTakeFirst()).toBeUndefined();
    expect(await db().selectFrom('image').select('uuid').where('uuid', '=', mine.image.uuid).executeTakeFirst()).toBeUndefined();
    expect(await count('account_resource_ref', 'accountUuid', a.uuid)).toBe(0);
    expect(await count('shared_resource', 'ownerAccountUuid', a.uuid)).toBe(0);
    await waitFor('shares to the deleted account and its quotas are gone', async () => (await count('shared_resource', 'receiverAccountUuid', a.uuid)) === 0 && (await count('quota', 'identityUuid', a.uuid)) === 0);
    // The survivor keeps everything of its own, and no longer sees the deleted account's image.
    for (const [path, uuid] of [['/vm-instances', theirs.vm.uuid], ['/volumes', theirs.volume.uuid], ['/security-groups', theirs.sg.uuid], ['/images', theirs.image.uuid]]) {
      expect((await b.client.call('GET', `${path}/${uuid}`)).inventories, path).toHaveLength(1);
    }
    expect((await b.client.call('GET', `/images${qs({ q: [`uuid=${mine.image.uuid}`] })}`)).inventories).toEqual([]);
  }, 120_000);
});
