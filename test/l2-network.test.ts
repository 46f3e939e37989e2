import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { createCluster, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

describe.each(testDatabaseKinds())('L2 networks through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zone: any;
  const db = () => t.node.ctx.db;
  const q = (path: string, conditions: string[]) => c.call('GET', `${path}${qs({ q: conditions })}`);
  const fail = async (method: string, path: string, body?: unknown) => (await c.send(method, path, body)).body.error;

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    zone = await createZone(c, 'l2-zone');
  });
  afterAll(async () => t?.stop());

  it('creates NoVlan and Vlan networks that the typed queries tell apart', async () => {
    const novlan = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'l2-flat', zoneUuid: zone.uuid, physicalInterface: 'eth0' } })).inventory;
    expect(novlan).toMatchObject({ name: 'l2-flat', type: 'L2NoVlanNetwork', physicalInterface: 'eth0', vSwitchType: 'LinuxBridge', zoneUuid: zone.uuid });
    const vlan = (await c.call('POST', '/l2-networks/vlan', { params: { name: 'l2-vlan', zoneUuid: zone.uuid, physicalInterface: 'eth1', vlan: 10 } })).inventory;
    expect(vlan).toMatchObject({ type: 'L2VlanNetwork', vlan: 10 });
    expect((await q('/l2-networks/vlan', [`zoneUuid=${zone.uuid}`])).inventories.map((x: any) => [x.name, x.vlan])).toEqual([['l2-vlan', 10]]);
    expect((await q('/l2-networks', [`zoneUuid=${zone.uuid}`, 'type?=L2NoVlanNetwork,L2VlanNetwork'])).inventories.map((x: any) => x.name).sort()).toEqual(['l2-flat', 'l2-vlan']);
    expect((await q('/l2-networks', ['zone.name=l2-zone', 'name=l2-vlan'])).inventories).toHaveLength(1);
    const bad = await c.send('POST', '/l2-networks/vlan', { params: { name: 'x', zoneUuid: zone.uuid, physicalInterface: 'eth1', vlan: 4095 } });
    expect(bad.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    const updated = await c.call('PUT', `/l2-networks/${vlan.uuid}/actions`, { updateL2Network: { name: 'l2-vlan-renamed', description: 'd' } });
    expect(updated.inventory).toMatchObject({ name: 'l2-vlan-renamed', description: 'd' });
  });

  it('allocates VNIs from a pool\'s ranges, never twice, and refuses overlapping ranges, foreign and exhausted VNIs', async () => {
    const pool = (await c.call('POST', '/l2-networks/vxlan-pool', { params: { name: 'pool', zoneUuid: zone.uuid } })).inventory;
    expect(pool.type).toBe('VxlanNetworkPool');
    expect((await fail('POST', '/l2-networks/vxlan', { params: { name: 'none-yet', poolUuid: pool.uuid } })).details).toContain('no free VNI');
    const range = (await c.call('POST', `/l2-networks/vxlan-pool/${pool.uuid}/vni-ranges`, { params: { name: 'r1', startVni: 100, endVni: 104 } })).inventory;
    expect(range).toMatchObject({ startVni: 100, endVni: 104, l2NetworkUuid: pool.uuid });
    expect((await fail('POST', `/l2-networks/vxlan-pool/${pool.uuid}/vni-ranges`, { params: { name: 'r2', startVni: 104, endVni: 110 } })).details).toContain('overlaps');
    expect((await fail('POST', `/l2-networks/vxlan-pool/${pool.uuid}/vni-ranges`, { params: { name: 'r3', startVni: 9, endVni: 1 } })).code).toBe('SYS.1007');

    const fixed = (await c.call('POST', '/l2-networks/vxlan', { params: { name: 'vx-fixed', poolUuid: pool.uuid, vni: 102 } })).inventory;
    expect(fixed).toMatchObject({ vni: 102, poolUuid: pool.uuid, zoneUuid: zone.uuid, type: 'VxlanNetwork' });
    expect((await fail('POST', '/l2-networks/vxlan', { params: { name: 'dup', poolUuid: pool.uuid, vni: 102 } })).details).toContain('already used');
    expect((await fail('POST', '/l2-networks/vxlan', { params: { name: 'foreign', poolUuid: pool.uuid, vni: 5000 } })).details).toContain('no VNI range');

    // Four free VNIs left (100, 101, 103, 104), six concurrent creates: four distinct VNIs, two refusals.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => c.send('POST', '/l2-networks/vxlan', { params: { name: `vx-${i}`, poolUuid: pool.uuid } })));
    const vnis = results.filter((r) => r.status === 200).map((r) => r.body.inventory.vni);
    expect(vnis.sort()).toEqual([100, 101, 103, 104]);
    expect(results.filter((r) => r.status === 503).every((r) => r.body.error.details.includes('no free VNI'))).toBe(true);
    expect((await q('/l2-networks/vxlan', [`poolUuid=${pool.uuid}`])).inventories).toHaveLength(5);
    expect((await q('/l2-networks/vxlan-pool', ['vniRange.startVni=100'])).inventories.map((x: any) => x.uuid)).toEqual([pool.uuid]);
    expect((await fail('DELETE', `/l2-networks/vxlan-pool/vni-ranges/${range.uuid}`)).details).toContain('in use');

    // Deleting the pool takes its VXLAN networks and ranges.
    await c.call('DELETE', `/l2-networks/${pool.uuid}`);
    expect(await db().selectFrom('l2_network').select('uuid').where((eb) => eb.or([eb('uuid', '=', pool.uuid), eb('poolUuid', '=', pool.uuid)])).execute()).toEqual([]);
    expect(await db().selectFrom('vni_range').select('uuid').where('l2NetworkUuid', '=', pool.uuid).execute()).toEqual([]);
  });

  it('attaches to and detaches from clusters of its zone; a VXLAN pool needs its CIDR system tag', async () => {
    const cluster = await createCluster(c, zone.uuid, 'l2-cluster');
    const l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'l2-attach', zoneUuid: zone.uuid, physicalInterface: 'eth0' } })).inventory;
    // ZStack's SDK sends {"null": {...}} for this API.
    await c.call('POST', `/l2-networks/${l2.uuid}/clusters/${cluster.uuid}`, { null: {} });
    await c.call('POST', `/l2-networks/${l2.uuid}/clusters/${cluster.uuid}`, { null: {} }); // again: still one ref
    expect((await q('/l2-networks', [`clusterRef.clusterUuid=${cluster.uuid}`])).inventories.map((x: any) => x.uuid)).toEqual([l2.uuid]);
    expect((await q('/l2-networks', ['clusterRef.cluster.name=l2-cluster'])).inventories.map((x: any) => x.uuid)).toEqual([l2.uuid]);

    const otherZone = await createZone(c, 'l2-other-zone');
    const foreign = await createCluster(c, otherZone.uuid, 'foreign-cluster');
    expect((await fail('POST', `/l2-networks/${l2.uuid}/clusters/${foreign.uuid}`, { null: {} })).details).toContain('zone');

    const pool = (await c.call('POST', '/l2-networks/vxlan-pool', { params: { name: 'pool-attach', zoneUuid: zone.uuid } })).inventory;
    expect((await fail('POST', `/l2-networks/${pool.uuid}/clusters/${cluster.uuid}`, { null: {} })).details).toContain('cidr');
    const tag = `l2NetworkUuid::${pool.uuid}::clusterUuid::${cluster.uuid}::cidr::{192.168.100.0/24}`;
    expect((await fail('POST', `/l2-networks/${pool.uuid}/clusters/${cluster.uuid}`, { null: { systemTags: [tag] } })).code).toBe('SYS.1007');
    const goodTag = `l2NetworkUuid::${pool.uuid}::clusterUuid::${cluster.uuid}::cidr::192.168.100.0/24`;
    await c.call('POST', `/l2-networks/${pool.uuid}/clusters/${cluster.uuid}`, { null: { systemTags: [goodTag] } });
    expect((await db().selectFrom('system_tag').select('tag').where('resourceUuid', '=', pool.uuid).execute()).map((r) => r.tag)).toEqual([goodTag]);

    await c.call('DELETE', `/l2-networks/${pool.uuid}/clusters/${cluster.uuid}`);
    expect(await db().selectFrom('system_tag').select('tag').where('resourceUuid', '=', pool.uuid).execute()).toEqual([]);
    expect((await q('/l2-networks', [`clusterRef.clusterUuid=${cluster.uuid}`])).inventories.map((x: any) => x.uuid)).toEqual([l2.uuid]);

    // Deleting the cluster detaches the L2 network; the L2 network stays.
    await c.call('DELETE', `/clusters/${cluster.uuid}`);
    expect(await db().selectFrom('l2_network_cluster_ref').select('id').where('clusterUuid', '=', cluster.uuid).execute()).toEqual([]);
    expect((await c.call('GET', `/l2-networks/${l2.uuid}`)).inventories).toHaveLength(1);
  });

  it('deleting a zone removes its L2 networks, their L3 networks, ranges, used IPs and cluster refs', async () => {
    const z = await createZone(c, 'l2-doomed-zone');
    const cluster = await createCluster(c, z.uuid, 'doomed-cluster');
    const l2 = (await c.call('POST', '/l2-networks/vlan', { params: { name: 'doomed-l2', zoneUuid: z.uuid, physicalInterface: 'eth0', vlan: 20 } })).inventory;
    await c.call('POST', `/l2-networks/${l2.uuid}/clusters/${cluster.uuid}`, { null: {} });
    const l3 = (await c.call('POST', '/l3-networks', { params: { name: 'doomed-l3', l2NetworkUuid: l2.uuid } })).inventory;
    const range = (await c.call('POST', `/l3-networks/${l3.uuid}/ip-ranges/by-cidr`, { params: { name: 'r', networkCidr: '10.77.0.0/28' } })).inventory;
    await t.node.ctx.bus.call('l3Network', 'l3.AllocateIp', { l3NetworkUuid: l3.uuid }, { resourceUuid: l3.uuid });
    await c.call('DELETE', `/zones/${z.uuid}`);
    for (const [table, col, uuid] of [['l2_network', 'uuid', l2.uuid], ['l3_network', 'uuid', l3.uuid], ['ip_range', 'uuid', range.uuid], ['used_ip', 'l3NetworkUuid', l3.uuid], ['l2_network_cluster_ref', 'l2NetworkUuid', l2.uuid], ['cluster', 'uuid', cluster.uuid]]) {
      expect(await db().selectFrom(table).select(col).where(col, '=', uuid).execute(), table).toEqual([]);
    }
  });
});
