import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmMessages, VM_SERVICE } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/**
 * A host sync reports what the agent ran when it was asked; an agent's own report (QEMU died) can be
 * handled between that moment and the sync's report of the same VM. The older snapshot must not undo
 * the newer state: it used to mark a VM Running again (capacity taken) right after it was reported
 * Stopped, seen as a flaky KVM system test after an agent restart.
 */
describe.each(testDatabaseKinds())('VM state reports against a stale host sync on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const report = (body: Record<string, unknown>) => t.node.ctx.bus.call<{ state?: string; ignored?: string }>(VM_SERVICE, VmMessages.reportState, body, { resourceUuid: String(body.vmUuid) });
  const vmRow = (uuid: string) => t.node.ctx.db.selectFrom('vm_instance').select(['state', 'hostUuid']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const freeCpu = async (host: string) => Number((await t.node.ctx.db.selectFrom('host').select('availableCpuCapacity').where('uuid', '=', host).executeTakeFirstOrThrow()).availableCpuCapacity);

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'stale-sync');
  });
  afterAll(async () => t?.stop());

  it('keeps a VM reported Stopped after the sync asked its host, and applies a sync taken after the report', async () => {
    const host = w.hosts[0];
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'crashy', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: host } })).inventory.uuid as string;
    const cpuWhileRunning = await freeCpu(host);
    const syncAskedAt = Date.now() - 1; // the sync asked the agent before QEMU died
    await new Promise((r) => setTimeout(r, 5));

    expect(await report({ hostUuid: host, vmUuid: vm, vmState: 'Stopped' })).toMatchObject({ state: 'Stopped' });
    const cpuStopped = await freeCpu(host);
    expect(cpuStopped).toBeGreaterThan(cpuWhileRunning);

    expect((await report({ hostUuid: host, vmUuid: vm, vmState: 'Running', observedAt: syncAskedAt })).ignored).toMatch(/changed after the host was asked/);
    expect(await vmRow(vm)).toEqual({ state: 'Stopped', hostUuid: null });
    expect(await freeCpu(host)).toBe(cpuStopped);

    // A sync that asked after the report is news: the VM runs there again and takes its capacity.
    await new Promise((r) => setTimeout(r, 5));
    expect(await report({ hostUuid: host, vmUuid: vm, vmState: 'Running', observedAt: Date.now() })).toMatchObject({ state: 'Running' });
    expect(await vmRow(vm)).toEqual({ state: 'Running', hostUuid: host });
    expect(await freeCpu(host)).toBe(cpuWhileRunning);
  });
});
