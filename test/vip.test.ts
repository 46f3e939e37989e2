import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { L3NetworkMessages } from '../src/contracts/network.ts';
import { AfterVipPersisted } from '../src/contracts/vip.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { countRows, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

/** Test-only plugin step: VIPs named `fail…` fail after their row and address exist. */
const failingBackend: ServiceModule = {
  id: 'test.vip-failing-backend',
  setup(ctx) {
    ctx.flows.insert(AfterVipPersisted, { name: 'test-fail', run: (c) => { if (c.name.startsWith('fail')) throw new Error('backend refused the VIP'); }, rollback: () => {} });
  },
};

const TABLES = ['vip', 'vip_network_services_ref', 'eip', 'used_ip', 'system_tag', 'user_tag'];

describe.each(testDatabaseKinds())('VIPs and EIPs through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let l2: any;
  let pub: any;
  let range: any;
  const db = () => t.node.ctx.db;
  const fail = async (method: string, path: string, body?: unknown) => (await c.send(method, path, body)).body.error;
  const newL3 = async (name: string, category: string, cidr: string) => {
    const l3 = (await c.call('POST', '/l3-networks', { params: { name, l2NetworkUuid: l2.uuid, category } })).inventory;
    const r = (await c.call('POST', `/l3-networks/${l3.uuid}/ip-ranges/by-cidr`, { params: { name: `${name}-r`, networkCidr: cidr } })).inventory;
    return { l3, range: r };
  };
  const newVip = async (name: string, extra: Record<string, unknown> = {}) => (await c.call('POST', '/vips', { params: { name, l3NetworkUuid: pub.uuid, allocatorStrategy: 'FirstAvailableIpAllocatorStrategy', ...extra } })).inventory;
  // First-available keeps unnamed VIPs at the bottom of the range, away from the required IPs at its top.
  const newEip = (name: string, vipUuid: string, extra: Record<string, unknown> = {}) => c.send('POST', '/eips', { params: { name, vipUuid, ...extra } });
  const usedIp = (uuid: string) => db().selectFrom('used_ip').selectAll().where('uuid', '=', uuid).executeTakeFirst();

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failingBackend] });
    c = await t.login();
    const zone = await createZone(c, 'vip-zone');
    l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'vip-l2', zoneUuid: zone.uuid, physicalInterface: 'eth0' } })).inventory;
    ({ l3: pub, range } = await newL3('vip-public', 'Public', '203.0.113.0/24'));
  });
  afterAll(async () => t?.stop());

  it('creates a VIP with an address from the IPAM (usedFor=Vip), a required IP, updates, disables and queries it', async () => {
    const vip = await newVip('vip-1', { description: 'front door' });
    expect(vip).toMatchObject({ name: 'vip-1', description: 'front door', l3NetworkUuid: pub.uuid, ipRangeUuid: range.uuid, netmask: '255.255.255.0', gateway: '203.0.113.1', prefixLen: 24, state: 'Enabled', useFor: null, system: false });
    expect(await usedIp(vip.usedIpUuid)).toMatchObject({ ip: vip.ip, usedFor: 'Vip', l3NetworkUuid: pub.uuid });
    const fixed = await newVip('vip-fixed', { requiredIp: '203.0.113.250' });
    expect(fixed.ip).toBe('203.0.113.250');
    expect((await c.call('PUT', `/vips/${vip.uuid}/actions`, { updateVip: { name: 'vip-renamed' } })).inventory.name).toBe('vip-renamed');
    expect((await c.call('PUT', `/vips/${vip.uuid}/actions`, { changeVipState: { stateEvent: 'disable' } })).inventory.state).toBe('Disabled');
    expect((await c.call('GET', `/vips${qs({ q: ['l3Network.name=vip-public', 'ip=203.0.113.250'] })}`)).inventories.map((v: any) => v.uuid)).toEqual([fixed.uuid]);
    expect((await c.call('GET', `/vips${qs({ q: ['usedIp.usedFor=Vip'], count: true })}`)).total).toBeGreaterThanOrEqual(2);
  });

  it('refuses a VIP on a Private L3 network, a used or malformed required IP, or a foreign range, leaving no address taken', async () => {
    const priv = await newL3('vip-private', 'Private', '198.51.100.0/28');
    await newVip('vip-taken', { requiredIp: '203.0.113.251' });
    const before = await countRows(db(), TABLES);
    expect((await fail('POST', '/vips', { params: { name: 'x', l3NetworkUuid: priv.l3.uuid } })).details).toContain('Public or System');
    expect((await fail('POST', '/vips', { params: { name: 'x', l3NetworkUuid: pub.uuid, requiredIp: '203.0.113.251' } })).code).toBe('L3.1000');
    expect((await fail('POST', '/vips', { params: { name: 'x', l3NetworkUuid: pub.uuid, requiredIp: '203.0.113.300' } })).details).toContain('not an IPv4 address');
    expect((await fail('POST', '/vips', { params: { name: 'x', l3NetworkUuid: pub.uuid, ipRangeUuid: priv.range.uuid } })).details).toContain('is not a range of');
    expect((await fail('POST', '/vips', { params: { name: 'x', l3NetworkUuid: newUuid() } })).code).toBe('SYS.1003');
    expect(await countRows(db(), TABLES)).toEqual(before);
  });

  it('gives the address back when a later step fails', async () => {
    const before = await countRows(db(), TABLES);
    const r = await c.send('POST', '/vips', { params: { name: 'fail-vip', l3NetworkUuid: pub.uuid, requiredIp: '203.0.113.252' }, userTags: ['some-tag'] });
    expect(r.status).toBe(503);
    expect(r.body.error.details ?? r.text).toMatch(/backend refused the VIP|fail/);
    expect(await countRows(db(), TABLES)).toEqual(before);
    expect((await newVip('vip-after-rollback', { requiredIp: '203.0.113.252' })).ip).toBe('203.0.113.252');
  });

  it('creates an EIP without a NIC on a free VIP, marks the VIP used, and refuses a second EIP on it', async () => {
    const vip = await newVip('vip-eip');
    const r = await newEip('eip-1', vip.uuid, { description: 'web' });
    expect(r.status, r.text).toBe(200);
    const eip = r.body.inventory;
    expect(eip).toMatchObject({ name: 'eip-1', description: 'web', vipUuid: vip.uuid, vipIp: vip.ip, vmNicUuid: null, guestIp: null, state: 'Enabled' });
    expect((await c.call('GET', `/vips/${vip.uuid}`)).inventories[0].useFor).toBe('Eip');
    expect((await c.call('GET', `/vips${qs({ q: [`servicesRefs.uuid=${eip.uuid}`] })}`)).inventories.map((v: any) => v.uuid)).toEqual([vip.uuid]);
    const second = await newEip('eip-2', vip.uuid);
    expect(second.body.error.code, second.text).toBe('VIP.1000');
    expect((await c.call('GET', `/eips${qs({ q: ['vip.ip=' + vip.ip] })}`)).inventories.map((e: any) => e.uuid)).toEqual([eip.uuid]);
    expect((await c.call('PUT', `/eips/${eip.uuid}/actions`, { updateEip: { name: 'eip-renamed' } })).inventory.name).toBe('eip-renamed');
    expect((await c.call('PUT', `/eips/${eip.uuid}/actions`, { changeEipState: { stateEvent: 'disable' } })).inventory.state).toBe('Disabled');
  });

  it('lets only one of many concurrent EIP creates take a VIP', async () => {
    const vip = await newVip('vip-race');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => newEip(`eip-race-${i}`, vip.uuid)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status !== 200).every((r) => r.body.error.code === 'VIP.1000')).toBe(true);
    expect(await db().selectFrom('vip_network_services_ref').select('uuid').where('vipUuid', '=', vip.uuid).execute()).toHaveLength(1);
  });

  it('answers a VM NIC (none exist yet) with SYS.1003, and a disabled or unknown VIP with an error, writing nothing', async () => {
    const vip = await newVip('vip-nic');
    const before = await countRows(db(), TABLES);
    expect((await newEip('eip-nic', vip.uuid, { vmNicUuid: newUuid() })).body.error.code).toBe('SYS.1003');
    expect((await newEip('eip-unknown', newUuid())).body.error.code).toBe('SYS.1003');
    await c.call('PUT', `/vips/${vip.uuid}/actions`, { changeVipState: { stateEvent: 'disable' } });
    expect((await newEip('eip-disabled', vip.uuid)).body.error.details).toContain('not in state[Enabled]');
    expect(await countRows(db(), TABLES)).toEqual(before);
  });

  it('gives the VIP back when its EIP is deleted, so another EIP can take it; deleting twice succeeds', async () => {
    const vip = await newVip('vip-reuse');
    const eip = (await newEip('eip-a', vip.uuid)).body.inventory;
    await c.call('DELETE', `/eips/${eip.uuid}`);
    expect((await c.call('GET', `/vips/${vip.uuid}`)).inventories[0].useFor).toBeNull();
    expect((await c.send('DELETE', `/eips/${eip.uuid}`)).status).toBe(200);
    expect((await newEip('eip-b', vip.uuid)).status).toBe(200);
  });

  it('deletes a VIP with its EIP and releases the address; deleting the L3 network deletes its VIPs', async () => {
    const vip = await newVip('vip-del');
    const eip = (await newEip('eip-del', vip.uuid)).body.inventory;
    await c.call('DELETE', `/vips/${vip.uuid}`);
    expect(await db().selectFrom('eip').select('uuid').where('uuid', '=', eip.uuid).execute()).toEqual([]);
    expect(await usedIp(vip.usedIpUuid)).toBeUndefined();
    expect((await c.send('DELETE', `/vips/${vip.uuid}`)).status).toBe(200);

    const other = await newL3('vip-public-2', 'Public', '192.0.2.0/28');
    const v2 = (await c.call('POST', '/vips', { params: { name: 'vip-on-2', l3NetworkUuid: other.l3.uuid } })).inventory;
    const e2 = (await newEip('eip-on-2', v2.uuid)).body.inventory;
    await c.call('DELETE', `/l3-networks/${other.l3.uuid}`);
    expect(await db().selectFrom('vip').select('uuid').where('uuid', '=', v2.uuid).execute()).toEqual([]);
    expect(await db().selectFrom('eip').select('uuid').where('uuid', '=', e2.uuid).execute()).toEqual([]);
  });

  it('releases a VIP address through the IPAM that a direct l3.ReleaseIp of another address does not touch', async () => {
    const vip = await newVip('vip-ipam');
    const other = await t.node.ctx.bus.call<any>('l3Network', L3NetworkMessages.allocateIp, { l3NetworkUuid: pub.uuid }, { resourceUuid: pub.uuid });
    await t.node.ctx.bus.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: other.uuid }, { resourceUuid: pub.uuid });
    expect(await usedIp(vip.usedIpUuid)).toBeDefined();
  });
});
