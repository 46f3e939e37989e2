import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

describe.each(testDatabaseKinds())('L3 networks, IP ranges, DNS and network services through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let l2: any;
  const db = () => t.node.ctx.db;
  const q = (path: string, conditions: string[]) => c.call('GET', `${path}${qs({ q: conditions })}`);
  const fail = async (method: string, path: string, body?: unknown) => (await c.send(method, path, body)).body.error;
  const newL3 = async (name: string, extra: Record<string, unknown> = {}) => (await c.call('POST', '/l3-networks', { params: { name, l2NetworkUuid: l2.uuid, ...extra } })).inventory;

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    const zone = await createZone(c, 'l3-zone');
    l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'l3-l2', zoneUuid: zone.uuid, physicalInterface: 'eth0' } })).inventory;
  });
  afterAll(async () => t?.stop());

  it('creates an L3 network in its L2 network\'s zone with ZStack\'s defaults, and updates it', async () => {
    const l3 = await newL3('l3-basic', { category: 'Public', dnsDomain: 'example.org' });
    expect(l3).toMatchObject({ name: 'l3-basic', type: 'L3BasicNetwork', category: 'Public', system: false, state: 'Enabled', ipVersion: 4, zoneUuid: l2.zoneUuid, l2NetworkUuid: l2.uuid, dnsDomain: 'example.org' });
    const updated = await c.call('PUT', `/l3-networks/${l3.uuid}/actions`, { updateL3Network: { name: 'l3-renamed', system: true } });
    expect(updated.inventory).toMatchObject({ name: 'l3-renamed', system: true });
    const disabled = await c.call('PUT', `/l3-networks/${l3.uuid}/actions`, { changeL3NetworkState: { stateEvent: 'disable' } });
    expect(disabled.inventory.state).toBe('Disabled');
    expect((await fail('POST', '/l3-networks', { params: { name: 'x', l2NetworkUuid: '0123456789abcdef0123456789abcdef' } })).code).toBe('SYS.1003');
  });

  it('adds IP ranges inside the netmask with the gateway outside, refusing overlaps and a second subnet', async () => {
    const l3 = await newL3('l3-ranges');
    const base = `/l3-networks/${l3.uuid}/ip-ranges`;
    const r1 = (await c.call('POST', base, { params: { name: 'r1', startIp: '192.168.10.10', endIp: '192.168.10.50', netmask: '255.255.255.0', gateway: '192.168.10.1' } })).inventory;
    expect(r1).toMatchObject({ startIp: '192.168.10.10', endIp: '192.168.10.50', netmask: '255.255.255.0', gateway: '192.168.10.1', networkCidr: '192.168.10.0/24', prefixLen: 24, ipVersion: 4, l3NetworkUuid: l3.uuid });
    expect(r1.startIpInLong).toBeUndefined();
    const add = (p: Record<string, unknown>) => fail('POST', base, { params: { name: 'bad', netmask: '255.255.255.0', gateway: '192.168.10.1', ...p } });
    expect((await add({ startIp: '192.168.10.40', endIp: '192.168.10.60' })).details).toContain('overlaps');
    expect((await add({ startIp: '192.168.10.60', endIp: '192.168.10.70', gateway: '192.168.10.65' })).details).toContain('can not be part of the range');
    expect((await add({ startIp: '192.168.11.10', endIp: '192.168.11.20', gateway: '192.168.11.1' })).details).toContain('already has ranges in 192.168.10.0/24');
    expect((await add({ startIp: '192.168.10.60', endIp: '192.168.10.70', netmask: '255.0.255.0' })).details).toContain('not a valid netmask');
    expect((await add({ startIp: 'fd00::1', endIp: 'fd00::9' })).details).toContain('IPv4');
    const r2 = (await c.call('POST', base, { params: { name: 'r2', startIp: '192.168.10.51', endIp: '192.168.10.60', netmask: '255.255.255.0', gateway: '192.168.10.1' } })).inventory;
    expect((await q('/l3-networks/ip-ranges', [`l3NetworkUuid=${l3.uuid}`])).inventories.map((r: any) => r.uuid).sort()).toEqual([r1.uuid, r2.uuid].sort());
    expect((await q('/l3-networks', ['ipRanges.startIp=192.168.10.51'])).inventories.map((x: any) => x.uuid)).toEqual([l3.uuid]);
    expect((await q('/l3-networks/ip-ranges', ['l3Network.name=l3-ranges', 'name=r1'])).inventories).toHaveLength(1);

    // Deleting a range releases its addresses; the other range keeps its own.
    const ip = await t.node.ctx.bus.call<any>('l3Network', 'l3.AllocateIp', { l3NetworkUuid: l3.uuid, ipRangeUuid: r1.uuid }, { resourceUuid: l3.uuid });
    expect(ip).toMatchObject({ ip: '192.168.10.10', ipRangeUuid: r1.uuid });
    await c.call('DELETE', `/l3-networks/ip-ranges/${r1.uuid}`);
    expect(await db().selectFrom('used_ip').select('uuid').where('ipRangeUuid', '=', r1.uuid).execute()).toEqual([]);
    expect((await c.call('GET', `/l3-networks/${l3.uuid}/ip/free${qs({ limit: 3 })}`)).inventories.map((f: any) => f.ip)).toEqual(['192.168.10.51', '192.168.10.52', '192.168.10.53']);
  });

  it('adds ranges by CIDR leaving the gateway out, splitting around a gateway in the middle', async () => {
    const l3 = await newL3('l3-cidr');
    const r = await c.call('POST', `/l3-networks/${l3.uuid}/ip-ranges/by-cidr`, { params: { name: 'cidr', networkCidr: '172.16.0.0/24', gateway: '172.16.0.100' } });
    expect(r.inventories.map((x: any) => [x.startIp, x.endIp, x.gateway])).toEqual([['172.16.0.1', '172.16.0.99', '172.16.0.100'], ['172.16.0.101', '172.16.0.254', '172.16.0.100']]);
    expect(r.inventory.uuid).toBe(r.inventories[0].uuid);
    const free = await c.call('GET', `/l3-networks/${l3.uuid}/ip/free${qs({ start: '172.16.0.98', limit: 4 })}`);
    expect(free.inventories.map((f: any) => f.ip)).toEqual(['172.16.0.98', '172.16.0.99', '172.16.0.101', '172.16.0.102']);
    expect((await c.call('GET', `/l3-networks/${l3.uuid}/ip/172.16.0.100/availability`)).available).toBe(false);
    expect((await fail('POST', `/l3-networks/${l3.uuid}/ip-ranges/by-cidr`, { params: { name: 'again', networkCidr: '172.16.0.0/24', gateway: '172.16.0.100' } })).details).toContain('overlaps');
    expect((await fail('POST', `/l3-networks/${l3.uuid}/ip-ranges/by-cidr`, { params: { name: 'other', networkCidr: '172.16.0.0/25', gateway: '172.16.0.100' } })).details).toContain('already has ranges in 172.16.0.0/24');
  });

  it('adds and removes DNS servers, refusing duplicates and non-IPv4 values', async () => {
    const l3 = await newL3('l3-dns');
    await c.call('POST', `/l3-networks/${l3.uuid}/dns`, { params: { dns: '1.1.1.1' } });
    await c.call('POST', `/l3-networks/${l3.uuid}/dns`, { params: { dns: '8.8.8.8' } });
    expect((await fail('POST', `/l3-networks/${l3.uuid}/dns`, { params: { dns: '8.8.8.8' } })).code).toBe('SYS.1007');
    expect((await fail('POST', `/l3-networks/${l3.uuid}/dns`, { params: { dns: 'dns.example' } })).code).toBe('SYS.1007');
    expect((await q('/l3-networks', ['dns.dns=8.8.8.8'])).inventories.map((x: any) => x.uuid)).toEqual([l3.uuid]);
    await c.call('DELETE', `/l3-networks/${l3.uuid}/dns/8.8.8.8`);
    expect((await q('/l3-networks', ['dns.dns=8.8.8.8'])).inventories).toEqual([]);
    expect((await db().selectFrom('l3_network_dns').select('dns').where('l3NetworkUuid', '=', l3.uuid).execute()).map((r) => r.dns)).toEqual(['1.1.1.1']);
  });

  it('lists the providers created at start-up and attaches their services to L3 networks', async () => {
    const providers = (await c.call('GET', '/network-services/providers')).inventories;
    expect(providers.map((p: any) => p.type).sort()).toEqual(['Flat', 'SecurityGroup']);
    const flat = providers.find((p: any) => p.type === 'Flat');
    const sg = providers.find((p: any) => p.type === 'SecurityGroup');
    const types = (await c.call('GET', '/network-services/types')).serviceAndProviderTypes;
    expect(types).toMatchObject({ DHCP: ['Flat'], Eip: ['Flat'], Userdata: ['Flat'], DNS: ['Flat'], SecurityGroup: ['SecurityGroup'] });
    expect((await q('/network-services/providers', ['networkServiceType.type=SecurityGroup'])).inventories.map((p: any) => p.uuid)).toEqual([sg.uuid]);

    const l3 = await newL3('l3-services');
    const path = `/l3-networks/${l3.uuid}/network-services`;
    await c.call('POST', path, { params: { networkServices: { [flat.uuid]: ['DHCP', 'Eip', 'Userdata'], [sg.uuid]: ['SecurityGroup'] } } });
    await c.call('POST', path, { params: { networkServices: { [flat.uuid]: ['DHCP'] } } }); // again: no duplicate
    const refs = async () => (await q('/l3-networks/network-services/refs', [`l3NetworkUuid=${l3.uuid}`])).inventories.map((r: any) => r.networkServiceType).sort();
    expect(await refs()).toEqual(['DHCP', 'Eip', 'SecurityGroup', 'Userdata']);
    expect((await fail('POST', path, { params: { networkServices: { [sg.uuid]: ['DHCP'] } } })).details).toContain('does not offer');
    expect((await q('/l3-networks', ['serviceProviderRef.networkServiceType=Eip'])).inventories.map((x: any) => x.uuid)).toEqual([l3.uuid]);

    await c.call('DELETE', `${path}${qs({ service: 'Eip' })}`);
    expect(await refs()).toEqual(['DHCP', 'SecurityGroup', 'Userdata']);

    await c.call('DELETE', `/l3-networks/${l3.uuid}`);
    expect(await db().selectFrom('network_service_l3_ref').select('id').where('l3NetworkUuid', '=', l3.uuid).execute()).toEqual([]);
  });

  it('deleting an L3 network removes its ranges, used IPs, DNS and tags; deleting its L2 network removes it', async () => {
    const l3 = (await c.call('POST', '/l3-networks', { params: { name: 'l3-doomed', l2NetworkUuid: l2.uuid }, userTags: ['doomed'] })).inventory;
    await c.call('POST', `/l3-networks/${l3.uuid}/ip-ranges/by-cidr`, { params: { name: 'r', networkCidr: '10.66.0.0/29' } });
    await c.call('POST', `/l3-networks/${l3.uuid}/dns`, { params: { dns: '9.9.9.9' } });
    await t.node.ctx.bus.call('l3Network', 'l3.AllocateIp', { l3NetworkUuid: l3.uuid }, { resourceUuid: l3.uuid });
    await c.call('DELETE', `/l3-networks/${l3.uuid}`);
    for (const table of ['ip_range', 'used_ip', 'l3_network_dns']) expect(await db().selectFrom(table).select('l3NetworkUuid').where('l3NetworkUuid', '=', l3.uuid).execute(), table).toEqual([]);
    expect(await db().selectFrom('user_tag').select('tag').where('resourceUuid', '=', l3.uuid).execute()).toEqual([]);

    const survivor = await newL3('l3-under-l2');
    const otherL2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'l3-l2-doomed', zoneUuid: l2.zoneUuid, physicalInterface: 'eth9' } })).inventory;
    const child = (await c.call('POST', '/l3-networks', { params: { name: 'l3-child', l2NetworkUuid: otherL2.uuid } })).inventory;
    await c.call('DELETE', `/l2-networks/${otherL2.uuid}`);
    expect(await db().selectFrom('l3_network').select('uuid').where('uuid', '=', child.uuid).execute()).toEqual([]);
    expect((await c.call('GET', `/l3-networks/${survivor.uuid}`)).inventories).toHaveLength(1);
  });
});
