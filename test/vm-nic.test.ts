import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterVmNicAttached, AfterVmNicIpAllocated, AfterVmNicPersisted, type AttachNicCtx } from '../src/contracts/vm-nic.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import type { InsertionPoint } from '../src/core/flow/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { nicsOf } from '../src/plugins/simulator-vm/index.ts';
import { stepFailures, type FailWhen } from './support/failing-steps.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { accounting, buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

const POINTS: Array<InsertionPoint<AttachNicCtx>> = [AfterVmNicIpAllocated, AfterVmNicPersisted, AfterVmNicAttached];
const failures = stepFailures('test-failing-attach-nic-steps', POINTS);
const WHEN: FailWhen[] = ['before', 'after'];

describe.each(testDatabaseKinds())('VM NICs through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const createVm = async (name: string, params: Record<string, unknown> = {}) => {
    const r = await c.send('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], ...params } });
    expect(r.status, r.text).toBe(200);
    return r.body.inventory;
  };
  const attach = (vm: string, l3: string, params: Record<string, unknown> = {}) => c.send('POST', `/vm-instances/${vm}/l3-networks/${l3}`, { params });
  const detach = (nic: string) => c.send('DELETE', `/vm-instances/nics/${nic}`);
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const usedIp = (ip: string) => db().selectFrom('used_ip').select(['uuid', 'vmNicUuid']).where('ip', '=', ip).executeTakeFirst();

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    w = await buildVmWorld(c, 'nic');
  });
  afterAll(async () => t?.stop());

  it('attaches an L3 network to a running VM with a static IP (hot-plugged), then detaches it giving the IP back', async () => {
    const vm = await createVm('hot');
    const before = await accounting(db(), w);
    const r = await attach(vm.uuid, w.l3b, { staticIp: '172.31.0.15' });
    expect(r.status, r.text).toBe(200);
    const inv = r.body.inventory;
    expect(inv.vmNics).toHaveLength(2);
    const nic = inv.vmNics.find((n: any) => n.l3NetworkUuid === w.l3b);
    expect(nic).toMatchObject({ ip: '172.31.0.15', deviceId: 1, netmask: '255.255.255.0', gateway: '172.31.0.1', vmInstanceUuid: vm.uuid, type: 'VNIC' });
    expect(nic.mac).toMatch(/^fa(:[0-9a-f]{2}){5}$/);
    expect((await usedIp('172.31.0.15'))?.vmNicUuid).toBe(nic.uuid);
    const agent = fleet().agent(vm.hostUuid)!;
    expect(nicsOf(agent)[vm.uuid]).toEqual([nic.uuid]);
    expect(inv.defaultL3NetworkUuid).toBe(w.l3);
    const queried = await c.call('GET', `/vm-instances/nics?q=vmInstanceUuid=${vm.uuid}&sort=%2BdeviceId`);
    expect(queried.inventories.map((n: any) => n.l3NetworkUuid)).toEqual([w.l3, w.l3b]);

    const again = await attach(vm.uuid, w.l3b);
    expect(again.status).toBe(503);
    expect(again.body.error.details).toContain('is already attached');

    const d = await detach(nic.uuid);
    expect(d.status, d.text).toBe(200);
    expect(d.body.inventory.vmNics.map((n: any) => n.l3NetworkUuid)).toEqual([w.l3]);
    expect(await usedIp('172.31.0.15')).toBeUndefined();
    expect(nicsOf(agent)[vm.uuid]).toEqual([]);
    expect(await accounting(db(), w)).toEqual(before);
    expect((await detach(nic.uuid)).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });

  it('attaches to a stopped VM without telling any agent; a paused VM is refused with VM.1010', async () => {
    const vm = await createVm('cold');
    const hostUuid = vm.hostUuid as string;
    expect((await action(vm.uuid, { stopVmInstance: {} })).body.inventory.state).toBe('Stopped');
    const sent = fleet().agent(hostUuid)!.count('/vm/attachnic');
    const r = await attach(vm.uuid, w.l3b);
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory.vmNics.map((n: any) => n.l3NetworkUuid)).toEqual([w.l3, w.l3b]);
    expect(fleet().agent(hostUuid)!.count('/vm/attachnic')).toBe(sent);

    const paused = await createVm('paused');
    expect((await action(paused.uuid, { pauseVmInstance: {} })).body.inventory.state).toBe('Paused');
    const refused = await attach(paused.uuid, w.l3b);
    expect(refused.body.error.code).toBe('VM.1010');
    expect(refused.body.error.details).toContain('APIAttachL3NetworkToVmMsg');
  });

  it('moves the default L3 network to the remaining NIC when the default one is detached', async () => {
    const vm = await createVm('defaults', { l3NetworkUuids: [w.l3, w.l3b], defaultL3NetworkUuid: w.l3 });
    const first = vm.vmNics.find((n: any) => n.l3NetworkUuid === w.l3);
    const r = await detach(first.uuid);
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory.defaultL3NetworkUuid).toBe(w.l3b);
    const last = r.body.inventory.vmNics[0];
    expect((await detach(last.uuid)).body.inventory).toMatchObject({ defaultL3NetworkUuid: null, vmNics: [] });
    // A VM without a default gets the first NIC attached again as its default.
    expect((await attach(vm.uuid, w.l3)).body.inventory.defaultL3NetworkUuid).toBe(w.l3);
  });

  describe('an attach that fails at any step leaves IPs and NICs exactly as before', () => {
    let vm: any;
    beforeAll(async () => {
      vm = await createVm('doomed-nic');
    });

    it('at every step of vm.attachNic (read from the FlowRegistry, inserted ones included), before and after its work', async () => {
      const steps = failures.stepsOf('vm.attachNic');
      expect(steps.filter((p) => p.split('/').length === 3)).toHaveLength(POINTS.length);
      expect(steps.length).toBeGreaterThan(POINTS.length);
      for (const path of steps) {
        for (const when of WHEN) {
          const what = `failing ${when} ${path}`;
          const before = await accounting(db(), w);
          const fired = failures.fired;
          failures.at = { path, when };
          try {
            const r = await attach(vm.uuid, w.l3b);
            expect(r.status, `${what}: ${r.text}`).toBe(503);
            expect(r.body.error.details, what).toContain(failures.message(path, when));
          } finally {
            failures.at = undefined;
          }
          expect(failures.fired, what).toBe(fired + 1);
          expect(await accounting(db(), w), what).toEqual(before);
          expect(nicsOf(fleet().agent(vm.hostUuid)!)[vm.uuid] ?? [], what).toEqual([]);
          expect((await db().selectFrom('vm_instance').select('defaultL3NetworkUuid').where('uuid', '=', vm.uuid).executeTakeFirstOrThrow()).defaultL3NetworkUuid, what).toBe(w.l3);
        }
      }
    }, 180_000);

    it('when the static IP is taken', async () => {
      const other = await createVm('holder', { l3NetworkUuids: [w.l3b] });
      const before = await accounting(db(), w);
      const r = await attach(vm.uuid, w.l3b, { staticIp: other.vmNics[0].ip });
      expect(r.status, r.text).toBe(503);
      expect(await accounting(db(), w)).toEqual(before);
    });

    it('when /vm/attachnic fails on the host', async () => {
      const before = await accounting(db(), w);
      fleet().agent(vm.hostUuid)!.configure('/vm/attachnic', { error: 'virsh attach-interface failed', times: 1 });
      const r = await attach(vm.uuid, w.l3b);
      expect(r.status, r.text).toBe(503);
      expect(r.body.error.details).toContain('virsh attach-interface failed');
      expect(await accounting(db(), w)).toEqual(before);
      // And the same attach works once the host does.
      expect((await attach(vm.uuid, w.l3b)).status).toBe(200);
    });
  });

  it('a failing /vm/detachnic leaves the NIC and its IP in place', async () => {
    const vm = await createVm('stuck', { l3NetworkUuids: [w.l3, w.l3b] });
    const before = await accounting(db(), w);
    fleet().agent(vm.hostUuid)!.configure('/vm/detachnic', { error: 'guest refused', times: 1 });
    const r = await detach(vm.vmNics[1].uuid);
    expect(r.status, r.text).toBe(503);
    expect(await accounting(db(), w)).toEqual(before);
  });

  it('deleting an L3 network detaches its NICs from VMs, gives their IPs back and moves the default L3', async () => {
    const l3 = (await c.call('POST', '/l3-networks', { params: { name: 'nic-doomed-l3', l2NetworkUuid: w.l2 } })).inventory.uuid as string;
    await c.call('POST', `/l3-networks/${l3}/ip-ranges`, { params: { name: 'd', startIp: '192.168.77.10', endIp: '192.168.77.20', netmask: '255.255.255.0', gateway: '192.168.77.1' } });
    const running = await createVm('on-doomed', { l3NetworkUuids: [l3, w.l3], defaultL3NetworkUuid: l3 });
    const stopped = await createVm('on-doomed-stopped', { l3NetworkUuids: [w.l3] });
    await action(stopped.uuid, { stopVmInstance: {} });
    expect((await attach(stopped.uuid, l3)).status).toBe(200);
    const doomedNic = running.vmNics.find((n: any) => n.l3NetworkUuid === l3);
    expect(nicsOf(fleet().agent(running.hostUuid)!)[running.uuid] ?? []).toEqual([]);

    const r = await c.send('DELETE', `/l3-networks/${l3}`);
    expect(r.status, r.text).toBe(200);
    expect(await db().selectFrom('vm_nic').select('uuid').where('l3NetworkUuid', '=', l3).execute()).toEqual([]);
    expect(await db().selectFrom('used_ip').select('uuid').where('l3NetworkUuid', '=', l3).execute()).toEqual([]);
    const vmAfter = await c.call('GET', `/vm-instances/${running.uuid}`);
    expect(vmAfter.inventories[0]).toMatchObject({ state: 'Running', defaultL3NetworkUuid: w.l3 });
    const nicsOfVm = async (vm: string) => (await c.call('GET', `/vm-instances/nics?q=vmInstanceUuid=${vm}`)).inventories.map((n: any) => n.l3NetworkUuid);
    expect(await nicsOfVm(running.uuid)).toEqual([w.l3]);
    expect(fleet().agent(running.hostUuid)!.count('/vm/detachnic')).toBeGreaterThan(0);
    expect(doomedNic).toBeDefined();
    expect(await nicsOfVm(stopped.uuid)).toEqual([w.l3]);
  });

  it('changes the instance offering of a stopped VM only (VM.1010 while running)', async () => {
    const big = (await c.call('POST', '/instance-offerings', { params: { name: 'nic-big', cpuNum: 4, memorySize: 4 * GiB } })).inventory.uuid as string;
    const vm = await createVm('resize');
    const body = { changeInstanceOffering: { instanceOfferingUuid: big } };
    const running = await action(vm.uuid, body);
    expect(running.body.error.code).toBe('VM.1010');
    expect(running.body.error.details).toContain('APIChangeInstanceOfferingMsg');
    await action(vm.uuid, { stopVmInstance: {} });
    const r = await action(vm.uuid, body);
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ instanceOfferingUuid: big, cpuNum: 4, memorySize: 4 * GiB, state: 'Stopped' });
    const started = await action(vm.uuid, { startVmInstance: {} });
    expect(started.body.inventory).toMatchObject({ state: 'Running', cpuNum: 4 });
    const unknown = await action(vm.uuid, { changeInstanceOffering: { instanceOfferingUuid: 'a'.repeat(32) } });
    expect(unknown.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });
});
