import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmLifecyclePoint } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { startTestNode, type RawResponse, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, GiB, MiB, type VmWorld } from './support/vm-fixture.ts';

const VMS = 200;
const HOSTS = 20;

describe.each(testDatabaseKinds())('200 concurrent VM creates on 20 simulated hosts on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;

  /** Submits without polling, then polls every job slowly: 200 clients polling every 20 ms would starve the node on 2 cores. */
  async function createAll(n: number): Promise<RawResponse[]> {
    const accepted = await Promise.all(Array.from({ length: n }, (_, i) => c.raw('POST', '/vm-instances', { params: { name: `crowd-${i}`, cpuNum: 1, memorySize: GiB, imageUuid: w.image, l3NetworkUuids: [w.l3] } })));
    return Promise.all(accepted.map(async (a) => {
      expect(a.status, a.text).toBe(202);
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const res = await fetch(a.body.location, { headers: { Authorization: `OAuth ${c.session}` } });
        const text = await res.text();
        if (res.status !== 202) return { status: res.status, body: JSON.parse(text), text, headers: res.headers };
      }
    }));
  }

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    await c.call('PUT', '/global-configurations/simulator/agentTransport/actions', { updateGlobalConfig: { value: 'inProcess' } });
    // 9 GiB per host: memory (not CPU, 2 x 10 over-provisioned) bounds each host to 9 VMs of 1 GiB, 180 in all.
    w = await buildVmWorld(c, 'crowd', { hosts: HOSTS, cpu: 2, memory: 9 * GiB, imageSize: 64 * MiB, ipStart: '10.40.0.2', ipEnd: '10.40.0.254', subnet: '10.40.0' });
  }, 60_000);
  afterAll(async () => t?.stop());

  it('serializes conflicting operations on one VM in its queue: no operation starts before the previous one ended, and capacity follows the VM exactly', async () => {
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'contended', cpuNum: 1, memorySize: GiB, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory;
    /** [previous, state] of every state change of this VM, in the order observers saw them. */
    const changes: Array<[string, string]> = [];
    t.node.ctx.extensions.registerObserver(VmLifecyclePoint, { afterStateChange(v, previous) { if (v.uuid === vm.uuid) changes.push([previous, v.state]); } }, { by: 'test-contended' });
    const action = (body: unknown) => c.send('PUT', `/vm-instances/${vm.uuid}/actions`, body);
    const ops = [{ migrateVm: {} }, { stopVmInstance: {} }, { startVmInstance: {} }, { rebootVmInstance: {} }, { migrateVm: {} }, { pauseVmInstance: {} }, { resumeVmInstance: {} }];
    let done = 0;
    for (let round = 0; round < 8; round++) {
      const replies = await Promise.all(ops.map((op) => action(op)));
      // A refused operation is refused for the state it found (VM.1010), never half-done.
      for (const r of replies) expect([200, 503], r.text).toContain(r.status);
      for (const r of replies.filter((x) => x.status === 503)) expect(r.body.error.code, r.text).toBe('VM.1010');
      done += replies.filter((r) => r.status === 200).length;
    }
    expect(done).toBeGreaterThan(8);
    // Each transient state is left before anything else happens to the VM: operations never interleaved.
    const transient = new Set(['Starting', 'Stopping', 'Migrating', 'Rebooting', 'Pausing', 'Resuming']);
    expect(changes.length).toBeGreaterThan(8);
    for (let i = 1; i < changes.length; i++) {
      expect(changes[i][0], `change ${i} of ${JSON.stringify(changes)}`).toBe(changes[i - 1][1]);
      if (transient.has(changes[i - 1][1])) expect(transient.has(changes[i][1]), `change ${i} of ${JSON.stringify(changes)}`).toBe(false);
    }
    // The VM holds capacity on exactly the host it is recorded on, and runs only there.
    const row = await db().selectFrom('vm_instance').select(['state', 'hostUuid']).where('uuid', '=', vm.uuid).executeTakeFirstOrThrow();
    const hosts = await db().selectFrom('host').select(['uuid', 'availableMemoryCapacity']).where('uuid', 'in', w.hosts).execute();
    for (const h of hosts) expect(Number(h.availableMemoryCapacity), h.uuid as string).toBe(h.uuid === row.hostUuid ? 8 * GiB : 9 * GiB);
    const fleet = simulatorFleetOf(t.node.ctx);
    const runningOn = w.hosts.filter((h) => ['Running', 'Paused'].includes(vmsOf(fleet.agent(h)!)[vm.uuid]));
    expect(runningOn).toEqual(row.hostUuid ? [row.hostUuid] : []);
    // Gone again, so the crowd below finds every host empty.
    await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    await c.call('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} });
  }, 60_000);

  it('places exactly what fits, never over-commits a host, and gives no IP or MAC twice', async () => {
    const results = await createAll(VMS);
    const ok = results.filter((r) => r.status === 200).map((r) => r.body.inventory);
    const failed = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(180);
    expect(failed.every((r) => r.body.error.code === 'HOST_ALLOCATION.1001')).toBe(true);

    const hosts = await db().selectFrom('host').select(['uuid', 'availableMemoryCapacity', 'availableCpuCapacity']).where('uuid', 'in', w.hosts).execute();
    const perHost = new Map<string, number>();
    for (const vm of ok) perHost.set(vm.hostUuid, (perHost.get(vm.hostUuid) ?? 0) + 1);
    for (const h of hosts) {
      expect(Number(h.availableMemoryCapacity)).toBe(0);
      expect(perHost.get(h.uuid as string)).toBe(9);
      expect(Number(h.availableCpuCapacity)).toBe(20 - 9);
    }
    const nics = await db().selectFrom('vm_nic').select(['ip', 'mac', 'vmInstanceUuid']).execute();
    expect(nics).toHaveLength(180);
    expect(new Set(nics.map((n) => n.ip)).size).toBe(180);
    expect(new Set(nics.map((n) => n.mac)).size).toBe(180);
    const used = await db().selectFrom('used_ip').select('ip').where('l3NetworkUuid', '=', w.l3).execute();
    expect(used.map((u) => u.ip).sort()).toEqual(nics.map((n) => n.ip).sort());
    // Failed creates left nothing: one root volume per VM.
    expect(Number((await db().selectFrom('volume').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(180);
  }, 240_000);
});
