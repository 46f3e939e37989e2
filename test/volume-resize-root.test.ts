import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

/**
 * ResizeRootVolume (ZStack's PUT /volumes/resize/{uuid}/actions) on simulated hosts: grows a VM's root
 * volume while the VM runs or is stopped, charging the growth to its primary storage; refuses a data
 * volume, a smaller size and a VM between states, changing nothing. The KVM side (the qcow2 growing
 * under a running guest) is in test/system/kvm-vm-ops.test.ts.
 */
describe.each(testDatabaseKinds())('ResizeRootVolume through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const resizeRoot = (uuid: string, size: number) => c.send('PUT', `/volumes/resize/${uuid}/actions`, { resizeRootVolume: { size } });
  const resizeData = (uuid: string, size: number) => c.send('PUT', `/volumes/data/resize/${uuid}/actions`, { resizeDataVolume: { size } });
  const action = (uuid: string, body: unknown) => c.call('PUT', `/vm-instances/${uuid}/actions`, body);
  const psFree = async () => Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', w.primaryStorage).executeTakeFirstOrThrow()).availableCapacity);
  const sizeOf = async (uuid: string) => Number((await db().selectFrom('volume').select('size').where('uuid', '=', uuid).executeTakeFirstOrThrow()).size);

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'rrv', { imageSize: 2 * GiB });
  });
  afterAll(async () => t?.stop());

  it('grows the root volume of a running and of a stopped VM, the growth taken from its primary storage', async () => {
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'rrv-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory;
    const root = vm.rootVolumeUuid as string;
    const before = await sizeOf(root);
    const free = await psFree();
    const grown = await resizeRoot(root, before + GiB);
    expect(grown.status, grown.text).toBe(200);
    expect(grown.body.inventory).toMatchObject({ uuid: root, type: 'Root', size: before + GiB });
    expect(await psFree()).toBe(free - GiB);

    await action(vm.uuid, { stopVmInstance: {} });
    expect((await resizeRoot(root, before + 2 * GiB)).body.inventory.size).toBe(before + 2 * GiB);
    expect(await psFree()).toBe(free - 2 * GiB);
  });

  it('refuses a data volume, a size that does not grow, and a VM that is Paused, changing nothing', async () => {
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'rrv-refused', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], dataDiskOfferingUuids: [w.diskOffering] } })).inventory;
    const root = vm.rootVolumeUuid as string;
    const data = (await db().selectFrom('volume').select('uuid').where('vmInstanceUuid', '=', vm.uuid).where('type', '=', 'Data').executeTakeFirstOrThrow()).uuid as string;
    const [rootSize, dataSize, free] = [await sizeOf(root), await sizeOf(data), await psFree()];

    expect((await resizeRoot(data, dataSize + GiB)).body.error.details).toMatch(/not a root volume; use ResizeDataVolume/);
    expect((await resizeData(root, rootSize + GiB)).body.error.details).toMatch(/not a data volume/);
    expect((await resizeRoot(root, rootSize)).body.error.details).toMatch(/can only grow/);

    await action(vm.uuid, { pauseVmInstance: {} });
    expect((await resizeRoot(root, rootSize + GiB)).body.error.details).toMatch(/Running or Stopped; it is Paused/);
    expect((await resizeData(data, dataSize + GiB)).body.error.details).toMatch(/Running or Stopped; it is Paused/);
    expect([await sizeOf(root), await sizeOf(data), await psFree()]).toEqual([rootSize, dataSize, free]);
  });
});
