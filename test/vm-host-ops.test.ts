import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, GiB } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('VMs and their hosts (maintenance, vmsync, expunge timer) through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const agent = (host: string) => fleet().agent(host)!;
  const hostFree = async (uuid: string) => {
    const h = await db().selectFrom('host').select(['availableCpuCapacity', 'availableMemoryCapacity']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
    return [Number(h.availableCpuCapacity), Number(h.availableMemoryCapacity)];
  };
  const vmRow = (uuid: string) => db().selectFrom('vm_instance').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  const hostState = async (uuid: string) => (await db().selectFrom('host').select('state').where('uuid', '=', uuid).executeTakeFirstOrThrow()).state;
  const hostAction = (uuid: string, body: unknown) => c.send('PUT', `/hosts/${uuid}/actions`, body);
  const vmAction = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const setConfig = (name: string, value: number) => c.call('PUT', `/global-configurations/vm/${name}/actions`, { updateGlobalConfig: { value: String(value) } });

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
  });
  afterAll(async () => t?.stop());

  async function world(name: string, subnet: string) {
    const w = await buildVmWorld(c, name, { hosts: 3, subnet });
    const create = async (vmName: string, hostUuid: string) => {
      const r = await c.send('POST', '/vm-instances', { params: { name: vmName, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid } });
      expect(r.status, r.text).toBe(200);
      return r.body.inventory.uuid as string;
    };
    return { w, create };
  }

  it('entering maintenance migrates the host\'s VMs to other hosts, stops those that cannot migrate, then the host is in Maintenance', async () => {
    const { w, create } = await world('mnt', '10.41.0');
    const [a, b, cc] = w.hosts;
    const fullA = await hostFree(a);
    const fullB = await hostFree(b);
    const vms = [await create('m1', a), await create('m2', a), await create('m3', a)];
    const other = await create('m4', b);
    const afterOne = await hostFree(b);
    const perVm = [fullB[0] - afterOne[0], fullB[1] - afterOne[1]];
    // One migration out of the three is refused by the hypervisor: that VM is stopped instead.
    agent(a).configure('/vm/migrate', { error: 'migration refused', times: 1 });

    const r = await hostAction(a, { changeHostState: { stateEvent: 'maintain' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory.state).toBe('Maintenance');

    const rows = await Promise.all(vms.map(vmRow));
    const moved = rows.filter((v) => v!.state === 'Running');
    const stopped = rows.filter((v) => v!.state === 'Stopped');
    expect(moved).toHaveLength(2);
    expect(stopped).toHaveLength(1);
    for (const v of moved) {
      expect([b, cc]).toContain(v!.hostUuid);
      expect(v!.lastHostUuid).toBe(a);
      expect(vmsOf(agent(v!.hostUuid as string))[v!.uuid as string]).toBe('Running');
    }
    expect(stopped[0]).toMatchObject({ hostUuid: null, lastHostUuid: a });
    expect(Object.values(vmsOf(agent(a))).filter((s) => s === 'Running')).toEqual([]);
    expect(await hostFree(a)).toEqual(fullA);
    // Capacity moved with the VMs: b and c together hold the four running VMs.
    const [fb, fc] = [await hostFree(b), await hostFree(cc)];
    expect(perVm[1]).toBe(2 * GiB);
    expect(fb[0] + fc[0]).toBe(fullB[0] * 2 - perVm[0] * 3);
    expect(fb[1] + fc[1]).toBe(fullB[1] * 2 - perVm[1] * 3);
    expect(await vmRow(other)).toMatchObject({ state: 'Running', hostUuid: b });
    // A host in Maintenance takes no new VMs.
    expect((await vmAction(stopped[0]!.uuid as string, { startVmInstance: { hostUuid: a } })).body.error).toBeDefined();
  });

  it('a VM that can be neither migrated nor stopped vetoes maintenance: the host goes back to its state and the VM stays where it was', async () => {
    const { w, create } = await world('veto', '10.42.0');
    const [a] = w.hosts;
    const vm = await create('stuck', a);
    const freeA = await hostFree(a);
    agent(a).configure('/vm/migrate', { error: 'migration refused', times: 1 });
    agent(a).configure('/vm/stop', { error: 'qemu does not answer', times: 1 });

    const r = await hostAction(a, { changeHostState: { stateEvent: 'maintain' } });
    expect(r.body.error, r.text).toBeDefined();
    expect(r.body.error.details).toContain(vm);
    expect(r.body.error.details).toContain('qemu does not answer');
    expect(await hostState(a)).toBe('Enabled');
    expect(await vmRow(vm)).toMatchObject({ state: 'Running', hostUuid: a });
    expect(await hostFree(a)).toEqual(freeA);
    expect(vmsOf(agent(a))[vm]).toBe('Running');

    // Once the hypervisor cooperates the same request goes through.
    const again = await hostAction(a, { changeHostState: { stateEvent: 'maintain' } });
    expect(again.body.inventory?.state, again.text).toBe('Maintenance');
    expect((await vmRow(vm))!.hostUuid).not.toBe(a);
  });

  it('on reconnect the host\'s agent is asked which VMs it runs: a VM it lost becomes Stopped, a VM it runs that was Stopped becomes Running there', async () => {
    const { w, create } = await world('sync', '10.43.0');
    const [a, b] = w.hosts;
    const fullA = await hostFree(a);
    const lost = await create('lost', a);
    const revived = await create('revived', a);
    await vmAction(revived, { stopVmInstance: {} });
    const freeB = await hostFree(b);
    const perVm = [fullA[0] - (await hostFree(a))[0], 2 * GiB];
    // While the node was not looking: `lost` died on a, `revived` was started by hand on b.
    delete vmsOf(agent(a))[lost];
    delete vmsOf(agent(a))[revived];
    vmsOf(agent(b))[revived] = 'Running';

    expect((await hostAction(a, { reconnectHost: {} })).status).toBe(200);
    expect(await vmRow(lost)).toMatchObject({ state: 'Stopped', hostUuid: null, lastHostUuid: a });
    expect(await hostFree(a)).toEqual(fullA);
    expect(await vmRow(revived)).toMatchObject({ state: 'Stopped', hostUuid: null });

    expect((await hostAction(b, { reconnectHost: {} })).status).toBe(200);
    expect(await vmRow(revived)).toMatchObject({ state: 'Running', hostUuid: b, lastHostUuid: b, clusterUuid: w.cluster });
    expect(await hostFree(b)).toEqual([freeB[0] - perVm[0], freeB[1] - perVm[1]]);
    expect(agent(b).count('/vm/vmsync')).toBeGreaterThanOrEqual(1);
    // A second sync with nothing new changes nothing.
    expect((await hostAction(b, { reconnectHost: {} })).status).toBe(200);
    expect(await hostFree(b)).toEqual([freeB[0] - perVm[0], freeB[1] - perVm[1]]);
  });

  it('destroyed VMs are expunged by the periodic task once vm.expungePeriod has passed, not before', async () => {
    const { w, create } = await world('exp', '10.44.0');
    const vm = await create('gone', w.hosts[0]);
    const kept = await create('kept', w.hosts[1]);
    const root = (await vmRow(vm))!.rootVolumeUuid as string;
    await setConfig('expungeInterval', 1);
    await c.call('DELETE', `/vm-instances/${vm}`);
    expect((await vmRow(vm))!.state).toBe('Destroyed');
    // The period (a week by default) has not passed: several rounds leave the VM alone.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await vmRow(vm))!.state).toBe('Destroyed');

    await setConfig('expungePeriod', 1);
    const deadline = Date.now() + 30_000;
    while ((await vmRow(vm)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await vmRow(vm)).toBeUndefined();
    expect(await db().selectFrom('volume').select('uuid').where('uuid', '=', root).executeTakeFirst()).toBeUndefined();
    expect((await vmRow(kept))!.state).toBe('Running');
    await setConfig('expungePeriod', 604800);
    await setConfig('expungeInterval', 3600);
  });
});
