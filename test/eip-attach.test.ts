import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('EIPs attached to VM NICs through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let pub: string;
  let pub2: string;
  const newVip = async (l3: string) => (await c.call('POST', '/vips', { params: { name: 'v', l3NetworkUuid: l3 } })).inventory;
  const newEip = async (vip: string, extra: Record<string, unknown> = {}) => c.send('POST', '/eips', { params: { name: 'e', vipUuid: vip, ...extra } });
  const attach = (eip: string, nic: string, params: Record<string, unknown> = {}) => c.send('POST', `/eips/${eip}/vm-instances/nics/${nic}`, { params });
  const detach = (eip: string) => c.send('DELETE', `/eips/${eip}/vm-instances/nics`);
  const eipRow = (uuid: string) => t.node.ctx.db.selectFrom('eip').select(['vmNicUuid', 'guestIp']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const createVm = async (name: string, l3s: string[]) => {
    const r = await c.send('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: l3s } });
    expect(r.status, r.text).toBe(200);
    return r.body.inventory;
  };
  const publicL3 = async (name: string, subnet: string) => {
    const l3 = (await c.call('POST', '/l3-networks', { params: { name, l2NetworkUuid: w.l2, category: 'Public' } })).inventory.uuid as string;
    await c.call('POST', `/l3-networks/${l3}/ip-ranges`, { params: { name: 'p', startIp: `${subnet}.10`, endIp: `${subnet}.200`, netmask: '255.255.255.0', gateway: `${subnet}.1` } });
    return l3;
  };

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'eipnic');
    pub = await publicL3('eip-pub', '203.0.113');
    pub2 = await publicL3('eip-pub2', '198.51.100');
  });
  afterAll(async () => t?.stop());

  it('attaches an EIP to a NIC, detaches it, and refuses a second detach', async () => {
    const vm = await createVm('eip-vm', [w.l3]);
    const nic = vm.vmNics[0];
    const vip = await newVip(pub);
    const eip = (await newEip(vip.uuid)).body.inventory;
    const r = await attach(eip.uuid, nic.uuid);
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ uuid: eip.uuid, vmNicUuid: nic.uuid, guestIp: nic.ip, vipIp: vip.ip });
    expect((await c.call('GET', `/eips?q=vmNicUuid=${nic.uuid}`)).inventories.map((e: any) => e.uuid)).toEqual([eip.uuid]);
    expect((await attach(eip.uuid, nic.uuid)).body.error.details).toContain("can't attach again");
    const d = await detach(eip.uuid);
    expect(d.status, d.text).toBe(200);
    expect(d.body.inventory).toMatchObject({ vmNicUuid: null, guestIp: null });
    expect((await detach(eip.uuid)).body.error.details).toContain('has not attached to any vm nic');
    expect((await attach(eip.uuid, 'a'.repeat(32))).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await attach(eip.uuid, nic.uuid, { usedIpUuid: vm.vmNics[0].uuid })).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });

  it("refuses a NIC on the VIP's own L3 network and a second EIP from the same public L3 network on one NIC", async () => {
    const vm = await createVm('eip-rules', [w.l3, pub]);
    const privateNic = vm.vmNics.find((n: any) => n.l3NetworkUuid === w.l3);
    const publicNic = vm.vmNics.find((n: any) => n.l3NetworkUuid === pub);
    const e1 = (await newEip((await newVip(pub)).uuid)).body.inventory;
    const same = await attach(e1.uuid, publicNic.uuid);
    expect(same.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(same.body.error.details).toContain('are the same network');
    expect((await attach(e1.uuid, privateNic.uuid)).status).toBe(200);
    const e2 = (await newEip((await newVip(pub)).uuid)).body.inventory;
    const second = await attach(e2.uuid, privateNic.uuid);
    expect(second.status).toBe(503);
    expect(second.body.error.details).toContain('one EIP per public L3 network');
    expect((await eipRow(e2.uuid)).vmNicUuid).toBeNull();
    // An EIP from another public L3 network is fine.
    const e3 = (await newEip((await newVip(pub2)).uuid)).body.inventory;
    expect((await attach(e3.uuid, privateNic.uuid)).status).toBe(200);
  });

  it('lets exactly one of several concurrent EIPs from one public L3 network attach to a NIC', async () => {
    const vm = await createVm('eip-race', [w.l3]);
    const eips = [];
    for (let i = 0; i < 6; i++) eips.push((await newEip((await newVip(pub)).uuid)).body.inventory.uuid as string);
    const results = await Promise.all(eips.map((e) => attach(e, vm.vmNics[0].uuid)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const attached = await t.node.ctx.db.selectFrom('eip').select('uuid').where('vmNicUuid', '=', vm.vmNics[0].uuid).execute();
    expect(attached).toHaveLength(1);
  });

  it('creates an EIP on a NIC; a refused one gives its VIP back and leaves no EIP', async () => {
    const vm = await createVm('eip-create', [w.l3, pub]);
    const privateNic = vm.vmNics.find((n: any) => n.l3NetworkUuid === w.l3);
    const publicNic = vm.vmNics.find((n: any) => n.l3NetworkUuid === pub);
    const vip = await newVip(pub);
    const r = await newEip(vip.uuid, { vmNicUuid: privateNic.uuid, usedIpUuid: undefined });
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ vmNicUuid: privateNic.uuid, guestIp: privateNic.ip });

    const vip2 = await newVip(pub);
    const eipsBefore = (await c.call('GET', '/eips')).inventories.length;
    const refused = await newEip(vip2.uuid, { vmNicUuid: publicNic.uuid });
    expect(refused.body.error.details).toContain('are the same network');
    expect((await c.call('GET', '/eips')).inventories.length).toBe(eipsBefore);
    expect((await c.call('GET', `/vips/${vip2.uuid}`)).inventories[0].useFor).toBeNull();
    // The VIP was given back: it can be used again.
    expect((await newEip(vip2.uuid)).status).toBe(200);
  });

  it('detaches EIPs when their NIC is detached or their VM expunged (the EIPs stay)', async () => {
    const vm = await createVm('eip-gone', [w.l3, w.l3b]);
    const [n1, n2] = vm.vmNics;
    const e1 = (await newEip((await newVip(pub)).uuid, { vmNicUuid: n1.uuid })).body.inventory;
    const e2 = (await newEip((await newVip(pub)).uuid, { vmNicUuid: n2.uuid })).body.inventory;
    expect((await c.send('DELETE', `/vm-instances/nics/${n2.uuid}`)).status).toBe(200);
    expect(await eipRow(e2.uuid)).toEqual({ vmNicUuid: null, guestIp: null });
    expect((await eipRow(e1.uuid)).vmNicUuid).toBe(n1.uuid);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect((await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} })).status).toBe(200);
    expect(await eipRow(e1.uuid)).toEqual({ vmNicUuid: null, guestIp: null });
  });
});
