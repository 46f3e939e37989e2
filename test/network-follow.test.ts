import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatDhcpAgentPaths, VxlanAgentPaths } from '../src/contracts/network-agent.ts';
import { VmAgentPaths, VmMessages, VM_SERVICE } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { networksOf, vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

/**
 * The node drives VXLAN and the Flat provider's DHCP on (simulated) hosts as VMs come and go: the
 * commands the agents receive, their order against `/vm/start` and `/vm/migrate`, and what each host
 * holds afterwards (the simulated agent keeps it as the real one would).
 */
describe.each(testDatabaseKinds())('VXLAN and flat DHCP follow VMs on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let pool: string;
  const vx: Array<{ l2: string; l3: string; vni: number }> = [];
  const db = () => t.node.ctx.db;
  const agent = (host: string) => simulatorFleetOf(t.node.ctx).agent(host)!;
  const nets = (host: string) => networksOf(agent(host));
  const ipOf = async (host: string) => (await db().selectFrom('host').select('managementIp').where('uuid', '=', host).executeTakeFirstOrThrow()).managementIp as string;
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const createVm = async (name: string, l3s: string[], hostUuid: string) => {
    const r = await c.send('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: l3s, hostUuid } });
    expect(r.status, r.text).toBe(200);
    return r.body.inventory;
  };
  /** Paths this host received since `from`, in order. */
  const pathsSince = (host: string, from: number) => agent(host).received.slice(from).map((r) => r.path);
  const dhcpServer = async (l3: string) => (await db().selectFrom('used_ip').select('ip').where('l3NetworkUuid', '=', l3).where('usedFor', '=', 'DHCP').execute()).map((r) => r.ip);

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'vxf', { hosts: 2 });
    pool = (await c.call('POST', '/l2-networks/vxlan-pool', { params: { name: 'vxf-pool', zoneUuid: w.zone } })).inventory.uuid;
    await c.call('POST', `/l2-networks/vxlan-pool/${pool}/vni-ranges`, { params: { name: 'vxf-vnis', startVni: 5000, endVni: 5010 } });
    // The hosts' management addresses are 10.x.y.1: the whole 10/8 is the cluster's VTEP CIDR.
    await c.call('POST', `/l2-networks/${pool}/clusters/${w.cluster}`, { null: { systemTags: [`l2NetworkUuid::${pool}::clusterUuid::${w.cluster}::cidr::10.0.0.0/8`] } });
    const flat = (await c.call('GET', '/network-services/providers?q=type=Flat')).inventories[0].uuid as string;
    for (const [i, subnet] of ['192.168.50', '192.168.60'].entries()) {
      const l2 = (await c.call('POST', '/l2-networks/vxlan', { params: { name: `vxf-vx${i}`, poolUuid: pool, vni: 5001 + i } })).inventory.uuid as string;
      // The first is attached by hand (already attached with its pool: a no-op); the second inherits the pool's cluster.
      if (i === 0) await c.call('POST', `/l2-networks/${l2}/clusters/${w.cluster}`, { null: {} });
      const l3 = (await c.call('POST', '/l3-networks', { params: { name: `vxf-l3-${i}`, l2NetworkUuid: l2 } })).inventory.uuid as string;
      await c.call('POST', `/l3-networks/${l3}/ip-ranges`, { params: { name: `vxf-r${i}`, startIp: `${subnet}.10`, endIp: `${subnet}.100`, netmask: '255.255.255.0', gateway: `${subnet}.1` } });
      await c.call('POST', `/l3-networks/${l3}/dns`, { params: { dns: `${subnet}.53` } });
      await c.call('POST', `/l3-networks/${l3}/network-services`, { params: { networkServices: { [flat]: ['DHCP'] } } });
      vx.push({ l2, l3, vni: 5001 + i });
    }
  });
  afterAll(async () => t?.stop());

  it('a VXLAN network is attached where its pool is, and detached with it', async () => {
    const refs = async (l2: string) => (await db().selectFrom('l2_network_cluster_ref').select('clusterUuid').where('l2NetworkUuid', '=', l2).execute()).map((r) => r.clusterUuid);
    expect(await refs(vx[1].l2)).toEqual([w.cluster]);
    const other = (await c.call('POST', '/clusters', { params: { name: 'vxf-other', zoneUuid: w.zone, hypervisorType: 'Simulator' } })).inventory.uuid as string;
    await c.call('POST', `/l2-networks/${pool}/clusters/${other}`, { null: { systemTags: [`l2NetworkUuid::${pool}::clusterUuid::${other}::cidr::10.0.0.0/8`] } });
    expect((await refs(vx[0].l2)).sort()).toEqual([w.cluster, other].sort());
    await c.call('DELETE', `/l2-networks/${pool}/clusters/${other}`);
    expect(await refs(vx[0].l2)).toEqual([w.cluster]);
    expect(await refs(vx[1].l2)).toEqual([w.cluster]);
  });

  it('finds every host\'s VTEP when the pool is attached, and realizes a VNI and its DHCP on a host before the VM starts there', async () => {
    const [a, b] = w.hosts;
    const vteps = await db().selectFrom('vxlan_vtep').select(['hostUuid', 'vtepIp']).where('poolUuid', '=', pool).orderBy('hostUuid').execute();
    expect(vteps.map((v) => v.vtepIp).sort()).toEqual([await ipOf(a), await ipOf(b)].sort());

    const from = agent(a).received.length;
    const vm = await createVm('vxf-one', [vx[0].l3], a);
    const paths = pathsSince(a, from);
    expect(paths.indexOf(VxlanAgentPaths.createBridge)).toBeGreaterThanOrEqual(0);
    expect(paths.indexOf(VxlanAgentPaths.createBridge)).toBeLessThan(paths.indexOf(FlatDhcpAgentPaths.prepare));
    expect(paths.indexOf(FlatDhcpAgentPaths.prepare)).toBeLessThan(paths.indexOf(VmAgentPaths.start));
    // the prepare carries the lease: no apply of its own
    expect(paths).not.toContain(FlatDhcpAgentPaths.apply);
    expect(nets(a).vxlan['5001']).toEqual({ vtepIp: await ipOf(a), peers: [await ipOf(b)] });
    const start = agent(a).received.slice(from).find((r) => r.path === VmAgentPaths.start)!.body as { nics: Array<{ bridgeName: string }> };
    expect(start.nics.map((n) => n.bridgeName)).toEqual(['br_vx_5001']);

    const nic = vm.vmNics[0];
    const [server] = await dhcpServer(vx[0].l3);
    expect(server).toMatch(/^192\.168\.50\./);
    expect(server).not.toBe(nic.ip);
    expect(nets(a).dhcp[vx[0].l3]).toEqual({ bridgeName: 'br_vx_5001', dhcpServerIp: server, leases: { [nic.mac]: nic.ip } });
    const prepared = agent(a).received.slice(from).find((r) => r.path === FlatDhcpAgentPaths.prepare)!.body as { dhcp: any[]; physicalInterface?: string | null };
    expect(prepared.physicalInterface ?? null).toBeNull();
    expect(prepared.dhcp).toEqual([{ mac: nic.mac, ip: nic.ip, netmask: '255.255.255.0', gateway: '192.168.50.1', hostname: nic.ip.replace(/\./g, '-'), dns: ['192.168.50.53'], mtu: 1450 }]);
    // Host B runs nothing on the VNI: it holds nothing.
    expect(nets(b).vxlan['5001']).toBeUndefined();
    expect(nets(b).dhcp[vx[0].l3]).toBeUndefined();

    // A second VM on the L3 shares the namespace and its server address; stopping the first leaves them to the second.
    const two = await createVm('vxf-two', [vx[0].l3], a);
    expect(Object.keys(nets(a).dhcp[vx[0].l3].leases).sort()).toEqual([nic.mac, two.vmNics[0].mac].sort());
    expect(await dhcpServer(vx[0].l3)).toEqual([server]);
    expect((await action(vm.uuid, { stopVmInstance: {} })).status).toBe(200);
    expect(nets(a).dhcp[vx[0].l3].leases).toEqual({ [two.vmNics[0].mac]: two.vmNics[0].ip });
    expect(nets(a).vxlan['5001']).toBeDefined();
    // The last one going takes the namespace and the VNI's bridge with it.
    expect((await c.send('DELETE', `/vm-instances/${two.uuid}`)).status).toBe(200);
    expect(nets(a).dhcp[vx[0].l3]).toBeUndefined();
    expect(nets(a).vxlan['5001']).toBeUndefined();
    // Nothing serves the L3 any more: its DHCP address is back in the IPAM.
    expect(await dhcpServer(vx[0].l3)).toEqual([]);
  });

  it('a start that fails on the host takes back the bridge and the lease it put there', async () => {
    const [a] = w.hosts;
    const vm = await createVm('vxf-fail', [vx[0].l3], a);
    expect((await action(vm.uuid, { stopVmInstance: {} })).status).toBe(200);
    expect(nets(a).vxlan['5001']).toBeUndefined();
    agent(a).configure(VmAgentPaths.start, { error: 'qemu on fire', times: 1 });
    const r = await action(vm.uuid, { startVmInstance: { hostUuid: a } });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('qemu on fire');
    expect(nets(a).dhcp[vx[0].l3]).toBeUndefined();
    expect(nets(a).vxlan['5001']).toBeUndefined();
    // A DHCP server that cannot be prepared fails the start before /vm/start, and leaves the bridge gone too.
    agent(a).configure(FlatDhcpAgentPaths.prepare, { error: 'no namespace for you', times: 1 });
    const starts = agent(a).count(VmAgentPaths.start);
    const r2 = await action(vm.uuid, { startVmInstance: { hostUuid: a } });
    expect(r2.body.error.details).toContain('no namespace for you');
    expect(agent(a).count(VmAgentPaths.start)).toBe(starts);
    expect(nets(a).vxlan['5001']).toBeUndefined();
    expect((await action(vm.uuid, { startVmInstance: { hostUuid: a } })).status).toBe(200);
    expect(nets(a).dhcp[vx[0].l3].leases).toEqual({ [vm.vmNics[0].mac]: vm.vmNics[0].ip });
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('migration realizes the VNI and the lease on the target before /vm/migrate and removes them from the source after', async () => {
    const [a, b] = w.hosts;
    const vm = await createVm('vxf-mover', [vx[0].l3], a);
    const server = await dhcpServer(vx[0].l3);
    expect(server).toHaveLength(1);
    const fromB = agent(b).received.length;
    const fromA = agent(a).received.length;
    const r = await action(vm.uuid, { migrateVm: { hostUuid: b } });
    expect(r.status, r.text).toBe(200);
    expect(pathsSince(b, fromB)).toEqual(expect.arrayContaining([VxlanAgentPaths.createBridge, FlatDhcpAgentPaths.prepare]));
    const migrateAt = agent(a).received.findIndex((x, i) => i >= fromA && x.path === VmAgentPaths.migrate);
    const applyAt = agent(b).received.findIndex((x, i) => i >= fromB && x.path === FlatDhcpAgentPaths.prepare);
    expect(agent(b).received[applyAt].at).toBeLessThanOrEqual(agent(a).received[migrateAt].at);
    expect(nets(b).dhcp[vx[0].l3].leases).toEqual({ [vm.vmNics[0].mac]: vm.vmNics[0].ip });
    expect(nets(a).dhcp[vx[0].l3]).toBeUndefined();
    expect(nets(a).vxlan['5001']).toBeUndefined();
    // The L3 is still served (on B): its DHCP address stays.
    expect(await dhcpServer(vx[0].l3)).toEqual(server);

    // A migration whose /vm/migrate fails leaves the target as it was.
    agent(b).configure(VmAgentPaths.migrate, { error: 'link down', times: 1 });
    const back = await action(vm.uuid, { migrateVm: { hostUuid: a } });
    expect(back.status).toBe(503);
    expect(nets(a).dhcp[vx[0].l3]).toBeUndefined();
    expect(nets(a).vxlan['5001']).toBeUndefined();
    expect(nets(b).dhcp[vx[0].l3].leases).toEqual({ [vm.vmNics[0].mac]: vm.vmNics[0].ip });
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('attaching a NIC on another VXLAN realizes that VNI; detaching takes it away', async () => {
    const [a] = w.hosts;
    const vm = await createVm('vxf-nics', [vx[0].l3], a);
    const r = await c.send('POST', `/vm-instances/${vm.uuid}/l3-networks/${vx[1].l3}`, { params: {} });
    expect(r.status, r.text).toBe(200);
    const nic = r.body.inventory.vmNics.find((n: any) => n.l3NetworkUuid === vx[1].l3);
    expect(nets(a).vxlan['5002']).toBeDefined();
    expect(nets(a).dhcp[vx[1].l3].leases).toEqual({ [nic.mac]: nic.ip });
    const hotplug = agent(a).received.filter((x) => x.path === '/vm/attachnic').at(-1)!.body as { nic: { bridgeName: string } };
    expect(hotplug.nic.bridgeName).toBe('br_vx_5002');
    expect((await c.send('DELETE', `/vm-instances/nics/${nic.uuid}`)).status).toBe(200);
    expect(nets(a).vxlan['5002']).toBeUndefined();
    expect(nets(a).dhcp[vx[1].l3]).toBeUndefined();
    expect(nets(a).vxlan['5001']).toBeDefined();
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('detaching DHCP from an L3 stops it on every host and gives its address back; VMs then start without it', async () => {
    const [a, b] = w.hosts;
    const flat = (await c.call('GET', '/network-services/providers?q=type=Flat')).inventories[0].uuid as string;
    const l2 = (await c.call('POST', '/l2-networks/vxlan', { params: { name: 'vxf-vx-nodhcp', poolUuid: pool, vni: 5009 } })).inventory.uuid as string;
    const l3 = (await c.call('POST', '/l3-networks', { params: { name: 'vxf-l3-nodhcp', l2NetworkUuid: l2 } })).inventory.uuid as string;
    await c.call('POST', `/l3-networks/${l3}/ip-ranges`, { params: { name: 'vxf-r9', startIp: '192.168.90.10', endIp: '192.168.90.100', netmask: '255.255.255.0', gateway: '192.168.90.1' } });
    await c.call('POST', `/l3-networks/${l3}/network-services`, { params: { networkServices: { [flat]: ['DHCP'] } } });
    const one = await createVm('vxf-d1', [l3], a);
    const two = await createVm('vxf-d2', [l3], b);
    expect(nets(a).dhcp[l3]).toBeDefined();
    expect(nets(b).dhcp[l3]).toBeDefined();
    expect(await dhcpServer(l3)).toHaveLength(1);
    await c.call('DELETE', `/l3-networks/${l3}/network-services?service=DHCP`);
    expect(nets(a).dhcp[l3]).toBeUndefined();
    expect(nets(b).dhcp[l3]).toBeUndefined();
    expect(await dhcpServer(l3)).toEqual([]);
    const from = agent(a).count(FlatDhcpAgentPaths.prepare);
    expect((await action(one.uuid, { rebootVmInstance: {} })).status).toBe(200);
    const three = await createVm('vxf-d3', [l3], a);
    expect(agent(a).count(FlatDhcpAgentPaths.prepare)).toBe(from);
    expect(nets(a).vxlan['5009']).toBeDefined();
    for (const v of [one, two, three]) expect((await c.send('DELETE', `/vm-instances/${v.uuid}`)).status).toBe(200);
    expect(nets(a).vxlan['5009']).toBeUndefined();
  });

  it('a VM leaving a host that could not be told still gives the DHCP address back; the host\'s next connect removes the namespace', async () => {
    const [a] = w.hosts;
    const vm = await createVm('vxf-untold', [vx[1].l3], a);
    expect(await dhcpServer(vx[1].l3)).toHaveLength(1);
    agent(a).configure(FlatDhcpAgentPaths.deleteNamespace, { error: 'agent busy', times: 1 });
    expect((await action(vm.uuid, { stopVmInstance: {} })).status).toBe(200);
    // No host serves the L3: the address is back in the IPAM although the namespace is still there.
    expect(await dhcpServer(vx[1].l3)).toEqual([]);
    expect(nets(a).dhcp[vx[1].l3]).toBeDefined();
    expect((await c.send('PUT', `/hosts/${a}/actions`, { reconnectHost: {} })).status).toBe(200);
    expect(nets(a).dhcp[vx[1].l3]).toBeUndefined();
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('VMs arriving on one L3 of a host while its DHCP prepare is on its way share one later prepare carrying all their leases', async () => {
    const [a] = w.hosts;
    const from = agent(a).received.length;
    agent(a).configure(FlatDhcpAgentPaths.prepare, { delayMs: 6000, times: 1 });
    const first = createVm('vxf-batch-0', [vx[1].l3], a);
    while (!pathsSince(a, from).includes(FlatDhcpAgentPaths.prepare)) await new Promise((r) => setTimeout(r, 20));
    // these three wait behind the slow prepare (it was sent without their leases): one task for all of them, not three in turn
    const rest = Promise.all([1, 2, 3].map((i) => createVm(`vxf-batch-${i}`, [vx[1].l3], a)));
    const vms = [await first, ...(await rest)];
    const prepares = agent(a).received.slice(from).filter((r) => r.path === FlatDhcpAgentPaths.prepare && (r.body as { l3NetworkUuid: string }).l3NetworkUuid === vx[1].l3);
    expect(prepares).toHaveLength(2);
    expect((prepares[0].body as { dhcp: Array<{ mac: string }> }).dhcp.map((d) => d.mac)).toEqual([vms[0].vmNics[0].mac]);
    expect((prepares[1].body as { dhcp: Array<{ mac: string }> }).dhcp.map((d) => d.mac).sort()).toEqual(vms.slice(1).map((v) => v.vmNics[0].mac).sort());
    expect(pathsSince(a, from)).not.toContain(FlatDhcpAgentPaths.apply);
    expect(nets(a).dhcp[vx[1].l3]?.leases).toEqual(Object.fromEntries(vms.map((v) => [v.vmNics[0].mac, v.vmNics[0].ip])));
    for (const v of vms) expect((await c.send('DELETE', `/vm-instances/${v.uuid}`)).status).toBe(200);
    expect(nets(a).dhcp[vx[1].l3]).toBeUndefined();
  });

  it('VMs arriving on one VNI of a host while its VXLAN task runs share one createbridge', async () => {
    const [a] = w.hosts;
    const from = agent(a).received.length;
    agent(a).configure(VxlanAgentPaths.createBridge, { delayMs: 6000, times: 1 });
    const first = createVm('vxf-vbatch-0', [vx[0].l3], a);
    while (!pathsSince(a, from).includes(VxlanAgentPaths.createBridge)) await new Promise((r) => setTimeout(r, 20));
    const rest = Promise.all([1, 2, 3].map((i) => createVm(`vxf-vbatch-${i}`, [vx[0].l3], a)));
    const vms = [await first, ...(await rest)];
    expect(agent(a).received.slice(from).filter((r) => r.path === VxlanAgentPaths.createBridge && (r.body as { vni: number }).vni === vx[0].vni)).toHaveLength(2);
    expect(nets(a).vxlan[String(vx[0].vni)]).toBeDefined();
    for (const v of vms) expect((await c.send('DELETE', `/vm-instances/${v.uuid}`)).status).toBe(200);
  });

  it('VMs arriving on one L3 of a host while its DHCP task waits in the host\'s queue join it: one prepare for all', async () => {
    const [a] = w.hosts;
    const from = agent(a).received.length;
    // the host's DHCP queue is busy with a slow prepare of another L3: the tasks of vx[1] wait behind it
    agent(a).configure(FlatDhcpAgentPaths.prepare, { delayMs: 6000, times: 1 });
    const blocker = createVm('vxf-join-blocker', [vx[0].l3], a);
    while (!pathsSince(a, from).includes(FlatDhcpAgentPaths.prepare)) await new Promise((r) => setTimeout(r, 20));
    const vms = await Promise.all([0, 1, 2, 3].map((i) => createVm(`vxf-join-${i}`, [vx[1].l3], a)));
    const mine = (path: string) => agent(a).received.slice(from).filter((r) => r.path === path && (r.body as { l3NetworkUuid: string }).l3NetworkUuid === vx[1].l3);
    const prepares = mine(FlatDhcpAgentPaths.prepare);
    expect(prepares).toHaveLength(1);
    expect((prepares[0].body as { dhcp: Array<{ mac: string }> }).dhcp.map((d) => d.mac).sort()).toEqual(vms.map((v) => v.vmNics[0].mac).sort());
    expect(mine(FlatDhcpAgentPaths.apply)).toHaveLength(0);
    expect(nets(a).dhcp[vx[1].l3]?.leases).toEqual(Object.fromEntries(vms.map((v) => [v.vmNics[0].mac, v.vmNics[0].ip])));
    for (const v of [...vms, await blocker]) expect((await c.send('DELETE', `/vm-instances/${v.uuid}`)).status).toBe(200);
    expect(nets(a).dhcp[vx[1].l3]).toBeUndefined();
  });

  it('a create on a NoVlan L3 with flat DHCP sends one DHCP command per host and L3 (it makes the bridge and carries the leases), then /vm/start', async () => {
    const [a] = w.hosts;
    const flat = (await c.call('GET', '/network-services/providers?q=type=Flat')).inventories[0].uuid as string;
    const l3s: string[] = [];
    for (const [i, iface] of ['eth7', 'eth7.30'].entries()) {
      const l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: `vxf-flat-${i}`, zoneUuid: w.zone, physicalInterface: iface } })).inventory.uuid as string;
      await c.call('POST', `/l2-networks/${l2}/clusters/${w.cluster}`, { null: {} });
      const l3 = (await c.call('POST', '/l3-networks', { params: { name: `vxf-flat-l3-${i}`, l2NetworkUuid: l2 } })).inventory.uuid as string;
      await c.call('POST', `/l3-networks/${l3}/ip-ranges`, { params: { name: `vxf-fr${i}`, startIp: `192.168.7${i}.10`, endIp: `192.168.7${i}.100`, netmask: '255.255.255.0', gateway: `192.168.7${i}.1` } });
      await c.call('POST', `/l3-networks/${l3}/network-services`, { params: { networkServices: { [flat]: ['DHCP'] } } });
      l3s.push(l3);
    }
    const from = agent(a).received.length;
    const vm = await createVm('vxf-flat', l3s, a);
    const network = pathsSince(a, from).filter((p) => p.startsWith('/network/') || p.startsWith('/flatnetworkprovider/') || p === VmAgentPaths.start);
    expect(network).toEqual([FlatDhcpAgentPaths.prepare, FlatDhcpAgentPaths.prepare, VmAgentPaths.start]);
    const prepares = agent(a).received.slice(from).filter((r) => r.path === FlatDhcpAgentPaths.prepare).map((r) => r.body as { l3NetworkUuid: string; physicalInterface: string; bridgeName: string; dhcp: Array<{ mac: string; ip: string }> });
    expect(prepares.map((p) => [p.l3NetworkUuid, p.physicalInterface, p.bridgeName])).toEqual([[l3s[0], 'eth7', 'br_eth7'], [l3s[1], 'eth7.30', 'br_eth7_30']]);
    for (const [i, p] of prepares.entries()) {
      const nic = vm.vmNics.find((n: any) => n.l3NetworkUuid === l3s[i]);
      expect(p.dhcp.map((d) => [d.mac, d.ip])).toEqual([[nic.mac, nic.ip]]);
      expect(nets(a).dhcp[l3s[i]]).toMatchObject({ bridgeName: p.bridgeName, leases: { [nic.mac]: nic.ip } });
    }
    expect(nets(a).bridges).toEqual(expect.arrayContaining(['br_eth7', 'br_eth7_30']));
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect(nets(a).dhcp[l3s[0]]).toBeUndefined();
    expect(nets(a).dhcp[l3s[1]]).toBeUndefined();
  });

  it('a host reconnecting while a VM is starting there keeps (or is given again) that VM\'s bridge and lease', async () => {
    const [a] = w.hosts;
    const starts = agent(a).count(VmAgentPaths.start);
    agent(a).configure(VmAgentPaths.start, { delayMs: 6000, times: 1 });
    const creating = createVm('vxf-arriving', [vx[0].l3], a);
    while (agent(a).count(VmAgentPaths.start) === starts) await new Promise((r) => setTimeout(r, 20));
    // the host lost its networks (agent restarted on a wiped machine) and reconnects before the VM is recorded there
    agent(a).state.networks = { vxlan: {}, bridges: [], dhcp: {}, addresses: [] };
    expect((await c.send('PUT', `/hosts/${a}/actions`, { reconnectHost: {} })).status).toBe(200);
    // the race this is about: the VM was not recorded on the host when it reconnected
    expect((await db().selectFrom('vm_instance').select('hostUuid').where('name', '=', 'vxf-arriving').executeTakeFirstOrThrow()).hostUuid).toBeNull();
    const vm = await creating;
    expect(nets(a).vxlan['5001']).toBeDefined();
    expect(nets(a).dhcp[vx[0].l3]?.leases).toEqual({ [vm.vmNics[0].mac]: vm.vmNics[0].ip });
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect(nets(a).dhcp[vx[0].l3]).toBeUndefined();
  });

  it('a VM that stops while its host reconnects (after the replay read the host\'s VMs) leaves no namespace or bridge there', async () => {
    const [a] = w.hosts;
    const vm = await createVm('vxf-dies', [vx[0].l3], a);
    expect(nets(a).dhcp[vx[0].l3]).toBeDefined();
    const from = agent(a).received.length;
    agent(a).configure(VxlanAgentPaths.createBridge, { delayMs: 3000, times: 1 });
    const reconnect = c.send('PUT', `/hosts/${a}/actions`, { reconnectHost: {} });
    // The replay has read the host's VMs and realizes the VNI again: the VM's QEMU dies now, and the agent says so.
    while (!pathsSince(a, from).includes(VxlanAgentPaths.createBridge)) await new Promise((r) => setTimeout(r, 20));
    delete vmsOf(agent(a))[vm.uuid];
    const reported = await t.node.ctx.bus.call(VM_SERVICE, VmMessages.reportState, { hostUuid: a, vmUuid: vm.uuid, vmState: 'Stopped' }, { resourceUuid: vm.uuid });
    expect(reported).toMatchObject({ state: 'Stopped' });
    expect((await reconnect).status).toBe(200);
    // The reconnect's DHCP and VXLAN tasks ran after the VM left: they did not make its namespace and bridge again.
    expect(nets(a).dhcp[vx[0].l3]).toBeUndefined();
    expect(nets(a).vxlan['5001']).toBeUndefined();
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('a reconnecting host gets its bridges, peers and whole lease set again; a new host becomes everyone\'s peer', async () => {
    const [a, b] = w.hosts;
    const vm = await createVm('vxf-stay', [vx[0].l3], a);
    const other = await createVm('vxf-there', [vx[0].l3], b);
    // The host lost everything (an agent restarted on a wiped machine) but a namespace of an L3 it no longer serves.
    agent(a).state.networks = { vxlan: {}, bridges: [], dhcp: { [vx[1].l3]: { bridgeName: 'br_vx_5002', dhcpServerIp: '192.168.60.2', leases: {} } }, addresses: [] };
    networksOf(agent(a)).vxlan['5002'] = { vtepIp: await ipOf(a), peers: [] };
    expect((await c.send('PUT', `/hosts/${a}/actions`, { reconnectHost: {} })).status).toBe(200);
    expect(nets(a).vxlan['5001']).toEqual({ vtepIp: await ipOf(a), peers: [await ipOf(b)] });
    expect(nets(a).dhcp[vx[0].l3].leases).toEqual({ [vm.vmNics[0].mac]: vm.vmNics[0].ip });
    expect(nets(a).dhcp[vx[1].l3]).toBeUndefined();
    expect(nets(a).vxlan['5002']).toBeUndefined();
    const rebuild = agent(a).received.filter((x) => x.path === FlatDhcpAgentPaths.prepare).at(-1)!.body as { rebuild?: boolean; dhcp: Array<{ mac: string }> };
    expect(rebuild.rebuild).toBe(true);
    expect(rebuild.dhcp.map((d) => d.mac)).toEqual([vm.vmNics[0].mac]);

    const added = (await c.call('POST', '/hosts/simulators', { params: { name: 'vxf-late', clusterUuid: w.cluster, managementIp: '10.99.0.7', cpuCapacity: 8, memoryCapacity: 16 * GiB } })).inventory.uuid as string;
    expect(nets(a).vxlan['5001'].peers).toEqual([await ipOf(b), '10.99.0.7'].sort());
    expect(nets(b).vxlan['5001'].peers).toEqual([await ipOf(a), '10.99.0.7'].sort());
    // Deleting it takes it out of every peer list.
    expect((await c.send('DELETE', `/hosts/${added}`)).status).toBe(200);
    expect(nets(a).vxlan['5001'].peers).toEqual([await ipOf(b)]);
    expect(await db().selectFrom('vxlan_vtep').select('hostUuid').where('hostUuid', '=', added).execute()).toEqual([]);
    for (const v of [vm, other]) expect((await c.send('DELETE', `/vm-instances/${v.uuid}`)).status).toBe(200);
    expect(vmsOf(agent(a))[vm.uuid]).toBeUndefined();
    expect(nets(a).vxlan).toEqual({});
    expect(nets(b).dhcp).toEqual({});
  });
});
