import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmAgentPaths, VmMessages, VmNetworkFollowerPoint, type VmNetworkFollower } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/** Two followers registered last (orders 1000 and 1001): what they hear, in which order. */
const heard: string[] = [];
let refuse: string | undefined;
const follower = (name: string): VmNetworkFollower => ({
  async beforeNicsOnHost(p) {
    heard.push(`${name} before ${p.vm.name} ${p.hostUuid.slice(0, 6)} ${p.nics.length}`);
    if (refuse === name) throw new Error(`${name} refuses`);
  },
  async nicsLeftHost(p) {
    heard.push(`${name} left ${p.vm.name} ${p.hostUuid.slice(0, 6)} ${p.nics.length}`);
  },
  async hostConnected(hostUuid, vms) {
    heard.push(`${name} connected ${hostUuid.slice(0, 6)} ${vms.map((v) => v.vm.name).sort().join(',')}`);
  },
  async pruneHost(hostUuid) {
    heard.push(`${name} prune ${hostUuid.slice(0, 6)}`);
  },
});
const recorder: ServiceModule = {
  id: 'test-network-followers',
  setup(ctx) {
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, follower('f1'), { order: 1000, by: 'test' });
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, follower('f2'), { order: 1001, by: 'test' });
  },
};

/** The VM service's side of VmNetworkFollowerPoint: which hook runs when, in order, with what, and what a refusal does. */
describe.each(testDatabaseKinds())('network followers hear a VM arrive on and leave hosts on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const take = () => heard.splice(0);
  const short = (h: string) => h.slice(0, 6);

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [recorder] });
    c = await t.login();
    w = await buildVmWorld(c, 'fol');
    heard.length = 0;
  });
  afterAll(async () => t?.stop());

  it('create, stop, start, migrate, attach and detach a NIC, destroy: before in order, left in reverse order', async () => {
    const [a, b] = w.hosts;
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'fol-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: a } })).inventory;
    expect(take()).toEqual([`f1 before fol-vm ${short(a)} 1`, `f2 before fol-vm ${short(a)} 1`]);
    expect((await action(vm.uuid, { stopVmInstance: {} })).status).toBe(200);
    expect(take()).toEqual([`f2 left fol-vm ${short(a)} 1`, `f1 left fol-vm ${short(a)} 1`]);
    expect((await action(vm.uuid, { startVmInstance: { hostUuid: a } })).status).toBe(200);
    expect(take()).toEqual([`f1 before fol-vm ${short(a)} 1`, `f2 before fol-vm ${short(a)} 1`]);
    expect((await action(vm.uuid, { migrateVm: { hostUuid: b } })).status).toBe(200);
    expect(take()).toEqual([`f1 before fol-vm ${short(b)} 1`, `f2 before fol-vm ${short(b)} 1`, `f2 left fol-vm ${short(a)} 1`, `f1 left fol-vm ${short(a)} 1`]);
    const attached = await c.send('POST', `/vm-instances/${vm.uuid}/l3-networks/${w.l3b}`, { params: {} });
    expect(attached.status, attached.text).toBe(200);
    expect(take()).toEqual([`f1 before fol-vm ${short(b)} 1`, `f2 before fol-vm ${short(b)} 1`]);
    const nic = attached.body.inventory.vmNics.find((n: any) => n.l3NetworkUuid === w.l3b);
    expect((await c.send('DELETE', `/vm-instances/nics/${nic.uuid}`)).status).toBe(200);
    expect(take()).toEqual([`f2 left fol-vm ${short(b)} 1`, `f1 left fol-vm ${short(b)} 1`]);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect(take()).toEqual([`f2 left fol-vm ${short(b)} 1`, `f1 left fol-vm ${short(b)} 1`]);
  });

  it('a follower refusing fails the start before /vm/start and those before it are told the NICs left; a failed /vm/start undoes both', async () => {
    const [a] = w.hosts;
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'fol-no', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: a, strategy: 'CreateStopped' } })).inventory;
    expect(take()).toEqual([]);
    const agent = simulatorFleetOf(t.node.ctx).agent(a)!;
    const starts = agent.count(VmAgentPaths.start);
    refuse = 'f2';
    try {
      const r = await action(vm.uuid, { startVmInstance: { hostUuid: a } });
      expect(r.body.error.details).toContain('f2 refuses');
    } finally {
      refuse = undefined;
    }
    expect(agent.count(VmAgentPaths.start)).toBe(starts);
    expect(take()).toEqual([`f1 before fol-no ${short(a)} 1`, `f2 before fol-no ${short(a)} 1`, `f2 left fol-no ${short(a)} 1`, `f1 left fol-no ${short(a)} 1`]);
    agent.configure(VmAgentPaths.start, { error: 'no qemu', times: 1 });
    expect((await action(vm.uuid, { startVmInstance: { hostUuid: a } })).status).toBe(503);
    expect(take()).toEqual([`f1 before fol-no ${short(a)} 1`, `f2 before fol-no ${short(a)} 1`, `f2 left fol-no ${short(a)} 1`, `f1 left fol-no ${short(a)} 1`]);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect(take()).toEqual([]);
  });

  it('a VM a host reports running while the node had it stopped is made there after the fact', async () => {
    const [a] = w.hosts;
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'fol-found', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: a, strategy: 'CreateStopped' } })).inventory;
    take();
    await t.node.ctx.bus.call('vm', VmMessages.reportState, { hostUuid: a, vmUuid: vm.uuid, vmState: 'Running' }, { resourceUuid: vm.uuid });
    expect(take()).toEqual([`f1 before fol-found ${short(a)} 1`, `f2 before fol-found ${short(a)} 1`]);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect(take()).toEqual([`f2 left fol-found ${short(a)} 1`, `f1 left fol-found ${short(a)} 1`]);
  });

  it('a reconnecting host is replayed with the VMs the node has there, then pruned in reverse order', async () => {
    const [a] = w.hosts;
    await c.call('POST', '/vm-instances', { params: { name: 'fol-stay', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: a } });
    take();
    expect((await c.send('PUT', `/hosts/${a}/actions`, { reconnectHost: {} })).status).toBe(200);
    expect(take()).toEqual([`f1 connected ${short(a)} fol-stay`, `f2 connected ${short(a)} fol-stay`, `f2 prune ${short(a)}`, `f1 prune ${short(a)}`]);
  });
});
