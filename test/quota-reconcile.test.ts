import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { QuotaMessages } from '../src/services/quota/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { createTenant } from './support/tenants.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('quota charges of resources gone without a delete API are given back on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let w: VmWorld;

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    w = await buildVmWorld(admin, 'rec', { hosts: 1 });
  }, 120_000);
  afterAll(async () => t?.stop());

  it('a VIP removed by its L3 network\'s cascade and a VM stopped by its host\'s deletion', async () => {
    const pub = (await admin.call('POST', '/l3-networks', { params: { name: 'rec-public', l2NetworkUuid: w.l2, category: 'Public' } })).inventory.uuid;
    await admin.call('POST', `/l3-networks/${pub}/ip-ranges`, { params: { name: 'pub', startIp: '198.19.0.10', endIp: '198.19.0.50', netmask: '255.255.255.0', gateway: '198.19.0.1' } });
    await admin.call('PUT', '/accounts/resources/actions', { shareResource: { resourceUuids: [w.image, w.l3, w.offering, pub], toPublic: true } });
    const a = await createTenant(t, 'rec-a');
    const used = async (name: string) => (await a.client.call('GET', `/accounts/quota/${a.uuid}/usages`)).usages.find((u: any) => u.name === name).used;
    await a.client.call('POST', '/vips', { params: { name: 'a-vip', l3NetworkUuid: pub } });
    const vm = (await a.client.call('POST', '/vm-instances', { params: { name: 'a-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory;
    expect([await used('vip.num'), await used('vm.num'), await used('vm.totalNum')]).toEqual([1, 1, 1]);

    await admin.call('DELETE', `/l3-networks/${pub}`);
    await admin.call('DELETE', `/hosts/${vm.hostUuid}`);
    expect((await admin.call('GET', `/vm-instances/${vm.uuid}`)).inventories[0].state).toBe('Stopped');
    const reconcile = async () => ((await t.node.ctx.bus.call<{ released: number }>('quota', QuotaMessages.reconcile, {})).released);
    // Within the grace period (a create may still be running) nothing is touched.
    expect(await reconcile()).toBe(0);
    expect([await used('vip.num'), await used('vm.num')]).toEqual([1, 1]);
    await admin.call('PUT', '/global-configurations/quota/reconcile.grace/actions', { updateGlobalConfig: { value: '0' } });
    expect(await reconcile()).toBe(2);
    expect([await used('vip.num'), await used('vm.num'), await used('vm.cpuNum'), await used('vm.totalNum')]).toEqual([0, 0, 0, 1]);
    expect(await reconcile()).toBe(0); // given back once
  }, 120_000);
});
