import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatEipAgentPaths } from '../src/contracts/eip-agent.ts';
import { NicQosAgentPaths } from '../src/contracts/nic-qos.ts';
import { VmAgentPaths, VmMessages, VM_SERVICE } from '../src/contracts/vm.ts';
import { SecurityGroupAgentPaths } from '../src/contracts/security-group.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { eipsOf, nicQosOf } from '../src/plugins/flat-eip/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/** What the node sends hosts for NIC QoS and flat EIPs, seen from simulated hosts (they keep what a real host would realize). */
describe.each(testDatabaseKinds())('NIC QoS and flat EIPs on hosts: what the node sends, on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let pubL3: string;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const agent = (host: string) => fleet().agent(host)!;
  const vmAction = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const vmOf = async (uuid: string) => (await c.call('GET', `/vm-instances/${uuid}`)).inventories[0];
  const createVm = async (name: string, hostUuid?: string) => {
    const r = await c.send('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], ...(hostUuid ? { hostUuid } : {}) } });
    expect(r.status, r.text).toBe(200);
    return r.body.inventory as { uuid: string; hostUuid: string; vmNics: Array<{ uuid: string; ip: string; mac: string; internalName: string }> };
  };
  const getQos = async (nic: string, forceSync = false) => (await c.call('GET', `/vm-instances/${nic}/nic-qos${forceSync ? '?forceSync=true' : ''}`)) as { inboundBandwidth: number; outboundBandwidth: number };
  const setQos = (nic: string, q: Record<string, unknown>) => vmAction(nic, { setNicQos: q });
  const newEip = async (nic?: string) => {
    const vip = (await c.call('POST', '/vips', { params: { name: 'v', l3NetworkUuid: pubL3 } })).inventory;
    const r = await c.send('POST', '/eips', { params: { name: 'e', vipUuid: vip.uuid, ...(nic ? { vmNicUuid: nic } : {}) } });
    expect(r.status, r.text).toBe(200);
    return { eip: r.body.inventory.uuid as string, vip: vip.ip as string };
  };

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'qoseip', { subnet: '10.72.0' });
    // the public network on an L2 of its own (its bridge br_eth1), as a flat EIP needs
    const l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'pub-l2', zoneUuid: w.zone, physicalInterface: 'eth1' } })).inventory.uuid;
    await c.call('POST', `/l2-networks/${l2}/clusters/${w.cluster}`);
    pubL3 = (await c.call('POST', '/l3-networks', { params: { name: 'pub', l2NetworkUuid: l2, category: 'Public' } })).inventory.uuid;
    await c.call('POST', `/l3-networks/${pubL3}/ip-ranges`, { params: { name: 'p', startIp: '203.0.113.10', endIp: '203.0.113.200', netmask: '255.255.255.0', gateway: '203.0.113.1' } });
  });
  afterAll(async () => t?.stop());

  it('SetNicQos limits a running NIC on its host at once, GetNicQos reads it (or the host with forceSync), DeleteNicQos lifts one direction', async () => {
    const vm = await createVm('qos-live', w.hosts[0]);
    const nic = vm.vmNics[0];
    expect(await getQos(nic.uuid)).toEqual({ inboundBandwidth: -1, outboundBandwidth: -1, inboundBandwidthUpthreshold: -1, outboundBandwidthUpthreshold: -1 });
    const r = await setQos(nic.uuid, { uuid: nic.uuid, inboundBandwidth: 10_000_000 });
    expect(r.status, r.text).toBe(200);
    expect(nicQosOf(agent(w.hosts[0]))[nic.internalName]).toEqual({ inboundBandwidth: 10_000_000, outboundBandwidth: null });
    // a direction not given keeps its limit
    await setQos(nic.uuid, { uuid: nic.uuid, outboundBandwidth: 2_000_000 });
    expect(await getQos(nic.uuid)).toMatchObject({ inboundBandwidth: 10_000_000, outboundBandwidth: 2_000_000 });
    expect(await getQos(nic.uuid, true)).toMatchObject({ inboundBandwidth: 10_000_000, outboundBandwidth: 2_000_000 });
    expect((await c.send('DELETE', `/vm-instances/${nic.uuid}/nic-qos?direction=in`)).status).toBe(200);
    expect(nicQosOf(agent(w.hosts[0]))[nic.internalName]).toEqual({ inboundBandwidth: null, outboundBandwidth: 2_000_000 });
    expect(await getQos(nic.uuid)).toMatchObject({ inboundBandwidth: -1, outboundBandwidth: 2_000_000 });
  });

  it('refuses negative, absurd and missing bandwidths, and unknown NICs, with clear errors; a host refusing leaves the record as it was', async () => {
    const vm = await createVm('qos-bad', w.hosts[0]);
    const nic = vm.vmNics[0].uuid;
    for (const bad of [{ inboundBandwidth: -1 }, { outboundBandwidth: 1e15 }, { inboundBandwidth: 100 }, { inboundBandwidth: 1.5e6 + 0.5 }]) {
      const r = await setQos(nic, { uuid: nic, ...bad });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    }
    expect((await setQos(nic, { uuid: nic })).body.error.details).toContain('give outboundBandwidth and/or inboundBandwidth');
    expect((await c.send('GET', `/vm-instances/${'a'.repeat(32)}/nic-qos`)).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await c.send('DELETE', `/vm-instances/${nic}/nic-qos?direction=sideways`)).body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    agent(w.hosts[0]).configure(NicQosAgentPaths.set, { error: 'tc exploded', times: 1 });
    expect((await setQos(nic, { uuid: nic, inboundBandwidth: 8_000_000 })).status).toBe(503);
    expect(await getQos(nic)).toMatchObject({ inboundBandwidth: -1, outboundBandwidth: -1 });
  });

  it('a stopped VM\'s limits are stored, not sent, and ride on /vm/start; a reconnected host gets them again', async () => {
    const vm = await createVm('qos-start', w.hosts[1]);
    const nic = vm.vmNics[0];
    expect((await vmAction(vm.uuid, { stopVmInstance: {} })).status).toBe(200);
    const sets = agent(w.hosts[1]).count(NicQosAgentPaths.set);
    expect((await setQos(nic.uuid, { uuid: nic.uuid, inboundBandwidth: 4_000_000, outboundBandwidth: 3_000_000 })).status).toBe(200);
    expect(agent(w.hosts[1]).count(NicQosAgentPaths.set)).toBe(sets);
    expect((await vmAction(vm.uuid, { startVmInstance: { hostUuid: w.hosts[1] } })).status).toBe(200);
    const start = agent(w.hosts[1]).received.filter((r) => r.path === VmAgentPaths.start).at(-1)!.body as { nics: Array<Record<string, unknown>> };
    expect(start.nics.find((n) => n.uuid === nic.uuid)).toMatchObject({ inboundBandwidth: 4_000_000, outboundBandwidth: 3_000_000 });
    delete nicQosOf(agent(w.hosts[1]))[nic.internalName]; // as if the host had lost it
    expect((await c.send('PUT', `/hosts/${w.hosts[1]}/actions`, { reconnectHost: {} })).status).toBe(200);
    expect(nicQosOf(agent(w.hosts[1]))[nic.internalName]).toEqual({ inboundBandwidth: 4_000_000, outboundBandwidth: 3_000_000 });
  });

  it('a change while the VM is migrating is stored and applied on the host it runs on once the migration is done', async () => {
    const [h0, h1] = w.hosts;
    const vm = await createVm('qos-move', h0);
    const nic = vm.vmNics[0];
    expect((await setQos(nic.uuid, { uuid: nic.uuid, inboundBandwidth: 5_000_000 })).status).toBe(200);
    const migrates = agent(h0).count(VmAgentPaths.migrate);
    agent(h0).configure(VmAgentPaths.migrate, { delayMs: 1500, times: 1 });
    const moving = vmAction(vm.uuid, { migrateVm: { hostUuid: h1 } });
    while (agent(h0).count(VmAgentPaths.migrate) === migrates) await new Promise((r) => setTimeout(r, 20));
    expect((await vmOf(vm.uuid)).state).toBe('Migrating');
    // one direction lifted, the other limited, both while /vm/migrate runs
    expect((await c.send('DELETE', `/vm-instances/${nic.uuid}/nic-qos?direction=in`)).status).toBe(200);
    expect((await setQos(nic.uuid, { uuid: nic.uuid, outboundBandwidth: 1_000_000 })).status).toBe(200);
    expect((await moving).status).toBe(200);
    expect((await vmOf(vm.uuid)).hostUuid).toBe(h1);
    expect(nicQosOf(agent(h1))[nic.internalName]).toEqual({ inboundBandwidth: null, outboundBandwidth: 1_000_000 });
    expect(await getQos(nic.uuid)).toMatchObject({ inboundBandwidth: -1, outboundBandwidth: 1_000_000 });
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('an EIP disabled or enabled while its VM is migrating is settled on both hosts once the VM runs', async () => {
    const [h0, h1] = w.hosts;
    const vm = await createVm('eip-moving', h0);
    const { eip } = await newEip(vm.vmNics[0].uuid);
    const migrateSlowly = async (from: string, to: string, during: () => Promise<void>) => {
      const n = agent(from).count(VmAgentPaths.migrate);
      agent(from).configure(VmAgentPaths.migrate, { delayMs: 1500, times: 1 });
      const moving = vmAction(vm.uuid, { migrateVm: { hostUuid: to } });
      while (agent(from).count(VmAgentPaths.migrate) === n) await new Promise((r) => setTimeout(r, 20));
      expect((await vmOf(vm.uuid)).state).toBe('Migrating');
      await during();
      expect((await moving).status).toBe(200);
    };
    const changeState = (stateEvent: string) => c.send('PUT', `/eips/${eip}/actions`, { changeEipState: { stateEvent } });
    await migrateSlowly(h0, h1, async () => expect((await changeState('disable')).status).toBe(200));
    expect(eipsOf(agent(h1))[eip]).toBeUndefined();
    expect(eipsOf(agent(h0))[eip]).toBeUndefined();
    await migrateSlowly(h1, h0, async () => expect((await changeState('enable')).status).toBe(200));
    expect(eipsOf(agent(h0))[eip]).toBeDefined();
    expect(eipsOf(agent(h1))[eip]).toBeUndefined();
    expect((await c.send('DELETE', `/eips/${eip}`)).status).toBe(200);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('an EIP is realized on the host of its running VM and follows it: stop, start, migrate, detach, attach, disable, enable, delete', async () => {
    const [h0, h1] = w.hosts;
    const vm = await createVm('eip-vm', h0);
    const nic = vm.vmNics[0];
    const { eip, vip } = await newEip(nic.uuid);
    expect(eipsOf(agent(h0))[eip]).toMatchObject({
      eipUuid: eip, vip, vipNetmask: '255.255.255.0', vipGateway: '203.0.113.1', publicBridgeName: 'br_eth1', publicPhysicalInterface: 'eth1',
      vmBridgeName: 'br_eth0', nicName: nic.internalName, nicIp: nic.ip, nicMac: nic.mac, nicNetmask: '255.255.255.0', nicGateway: '10.72.0.1',
    });
    expect((await vmAction(vm.uuid, { stopVmInstance: {} })).status).toBe(200);
    expect(eipsOf(agent(h0))[eip]).toBeUndefined();
    expect((await vmAction(vm.uuid, { startVmInstance: { hostUuid: h0 } })).status).toBe(200);
    // applied before the VM was started there
    const paths = agent(h0).received.map((r) => r.path);
    expect(paths.lastIndexOf(FlatEipAgentPaths.batchApply)).toBeLessThan(paths.lastIndexOf(VmAgentPaths.start));
    expect(eipsOf(agent(h0))[eip]).toBeDefined();
    expect((await vmAction(vm.uuid, { migrateVm: { hostUuid: h1 } })).status).toBe(200);
    expect((await vmOf(vm.uuid)).hostUuid).toBe(h1);
    expect(eipsOf(agent(h1))[eip]).toMatchObject({ nicName: nic.internalName });
    expect(eipsOf(agent(h0))[eip]).toBeUndefined();
    // once the source let go, the target applied it again (so it announces the VIP after the source stopped answering)
    const lastAt = (host: string, path: string) => Math.max(...agent(host).received.filter((r) => r.path === path).map((r) => r.at));
    expect(lastAt(h1, FlatEipAgentPaths.batchApply)).toBeGreaterThanOrEqual(lastAt(h0, FlatEipAgentPaths.batchDelete));
    expect(agent(h1).count(FlatEipAgentPaths.batchApply)).toBeGreaterThanOrEqual(2);
    expect((await c.send('DELETE', `/eips/${eip}/vm-instances/nics`)).status).toBe(200);
    expect(eipsOf(agent(h1))[eip]).toBeUndefined();
    expect((await c.send('POST', `/eips/${eip}/vm-instances/nics/${nic.uuid}`, { params: {} })).status).toBe(200);
    expect(eipsOf(agent(h1))[eip]).toBeDefined();
    expect((await c.send('PUT', `/eips/${eip}/actions`, { changeEipState: { stateEvent: 'disable' } })).status).toBe(200);
    expect(eipsOf(agent(h1))[eip]).toBeUndefined();
    expect((await c.send('PUT', `/eips/${eip}/actions`, { changeEipState: { stateEvent: 'enable' } })).status).toBe(200);
    expect(eipsOf(agent(h1))[eip]).toBeDefined();
    expect((await c.send('DELETE', `/eips/${eip}`)).status).toBe(200);
    expect(eipsOf(agent(h1))[eip]).toBeUndefined();
  });

  it('a host that refuses an EIP fails the attach (the EIP stays unattached); a reconnect syncs the host\'s whole set', async () => {
    const h0 = w.hosts[0];
    const vm = await createVm('eip-fail', h0);
    const nic = vm.vmNics[0];
    const { eip } = await newEip();
    agent(h0).configure(FlatEipAgentPaths.batchApply, { error: 'VIP 203.0.113.x is already applied on this host', times: 1 });
    const r = await c.send('POST', `/eips/${eip}/vm-instances/nics/${nic.uuid}`, { params: {} });
    expect(r.status).toBe(503);
    expect(r.text).toContain('already applied');
    expect((await c.call('GET', `/eips/${eip}`)).inventories[0].vmNicUuid).toBeNull();
    expect(eipsOf(agent(h0))[eip]).toBeUndefined();
    expect((await c.send('POST', `/eips/${eip}/vm-instances/nics/${nic.uuid}`, { params: {} })).status).toBe(200);
    eipsOf(agent(h0))['f'.repeat(32)] = { ...eipsOf(agent(h0))[eip], eipUuid: 'f'.repeat(32) }; // stale: the node knows no such EIP
    delete eipsOf(agent(h0))[eip]; // lost, as by a host reboot
    expect((await c.send('PUT', `/hosts/${h0}/actions`, { reconnectHost: {} })).status).toBe(200);
    expect(Object.keys(eipsOf(agent(h0)))).toContain(eip);
    expect(Object.keys(eipsOf(agent(h0)))).not.toContain('f'.repeat(32));
    const sync = agent(h0).received.filter((x) => x.path === FlatEipAgentPaths.batchApply).at(-1)!.body as { sync: boolean };
    expect(sync.sync).toBe(true);
  });
  it('an EIP detached while its host reconnects, after the reconnect sent the host its set, is gone from the host', async () => {
    const h0 = w.hosts[0];
    const vm = await createVm('eip-detach-connecting', h0);
    const { eip } = await newEip(vm.vmNics[0].uuid);
    expect(eipsOf(agent(h0))[eip]).toBeDefined();
    // the reconnect's sync is answered late: the host stays Connecting while the EIP is detached
    agent(h0).configure(FlatEipAgentPaths.batchApply, { delayMs: 1500, times: 1 });
    const synced = agent(h0).count(FlatEipAgentPaths.batchApply);
    const reconnect = c.send('PUT', `/hosts/${h0}/actions`, { reconnectHost: {} });
    while (agent(h0).count(FlatEipAgentPaths.batchApply) === synced) await new Promise((r) => setTimeout(r, 20));
    expect((await c.call('GET', `/hosts/${h0}`)).inventories[0].status).toBe('Connecting');
    expect((await c.send('DELETE', `/eips/${eip}/vm-instances/nics`)).status).toBe(200);
    expect((await reconnect).status).toBe(200);
    expect(eipsOf(agent(h0))[eip]).toBeUndefined();
    expect((await c.send('DELETE', `/eips/${eip}`)).status).toBe(200);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
  });

  it('a VM that stops while its host reconnects (after the replay read the host\'s VMs) does not get its EIP back on that host', async () => {
    const h0 = w.hosts[0];
    const vm = await createVm('eip-dies', h0);
    const { eip } = await newEip(vm.vmNics[0].uuid);
    expect(eipsOf(agent(h0))[eip]).toBeDefined();
    // a security-group member: that follower runs before the EIP one in the replay and is made slow
    const provider = (await c.call('GET', '/network-services/providers?q=type=SecurityGroup')).inventories[0].uuid as string;
    await c.call('POST', `/l3-networks/${w.l3}/network-services`, { params: { networkServices: { [provider]: ['SecurityGroup'] } } });
    const sg = (await c.call('POST', '/security-groups', { params: { name: 'eip-dies-sg' } })).inventory.uuid as string;
    await c.call('POST', `/security-groups/${sg}/l3-networks/${w.l3}`, { params: {} });
    await c.call('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: [vm.vmNics[0].uuid] } });
    const from = agent(h0).received.length;
    agent(h0).configure(SecurityGroupAgentPaths.refreshRulesOnHost, { delayMs: 3000, times: 1 });
    const reconnect = c.send('PUT', `/hosts/${h0}/actions`, { reconnectHost: {} });
    // the replay has read the host's VMs: the VM's QEMU dies now, and the agent says so
    while (!agent(h0).received.slice(from).some((r) => r.path === SecurityGroupAgentPaths.refreshRulesOnHost)) await new Promise((r) => setTimeout(r, 20));
    delete vmsOf(agent(h0))[vm.uuid];
    expect(await t.node.ctx.bus.call(VM_SERVICE, VmMessages.reportState, { hostUuid: h0, vmUuid: vm.uuid, vmState: 'Stopped' }, { resourceUuid: vm.uuid })).toMatchObject({ state: 'Stopped' });
    expect((await reconnect).status).toBe(200);
    // its VIP is not announced from a host where the VM no longer runs (it may start on another)
    expect(eipsOf(agent(h0))[eip]).toBeUndefined();
    expect((await c.send('DELETE', `/eips/${eip}`)).status).toBe(200);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect((await c.send('DELETE', `/security-groups/${sg}`)).status).toBe(200);
  });
});
