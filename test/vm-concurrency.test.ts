import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
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
  }, 120_000);
});
