import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnvironment } from '../src/cli/environment.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { LocalStorageAgentPaths } from '../src/plugins/local-storage/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { vmWorldSpec } from './support/vm-fixture.ts';

/**
 * Local storage keeps an image cache on every host (ZStack's LocalStorageKvmBackend): a root volume is
 * a linked clone of its own host's copy, downloaded there once when missing. Each copy takes its size on
 * its host and is charged to the storage; a failed download leaves nothing; a deleted host or storage
 * takes its copies (and their charges) away.
 */
describe.each(testDatabaseKinds())('image caches on every host of a local storage on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let hosts: string[];
  let ps: string;
  let image: string;
  let ioUuid: string;
  let l3: string;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const cachePath = () => `/local/lsc/imagecache/template/${image}/${image}.qcow2`;
  const downloads = (h: string) => fleet().agent(h)!.count(LocalStorageAgentPaths.downloadImage);
  let seq = 0;
  const createVm = (hostUuid?: string) => c.send('POST', '/vm-instances', { params: { name: `lsc-vm-${seq++}`, instanceOfferingUuid: ioUuid, imageUuid: image, l3NetworkUuids: [l3], ...(hostUuid ? { hostUuid } : {}) } });

  /** Where each copy is, what it took on its host, the storage's reservations and what each party charged. */
  const state = async () => {
    const copies = (await db().selectFrom('local_storage_resource_ref').select(['hostUuid', 'size', 'charged']).where('primaryStorageUuid', '=', ps).where('resourceType', '=', 'ImageCacheVO').orderBy('hostUuid').execute())
      .map((r) => ({ hostUuid: r.hostUuid as string, size: Number(r.size), charged: Number(r.charged) }));
    const room = Object.fromEntries((await db().selectFrom('local_storage_host_ref').select(['hostUuid', 'availableCapacity']).where('primaryStorageUuid', '=', ps).execute()).map((r) => [r.hostUuid, Number(r.availableCapacity)]));
    const row = await db().selectFrom('primary_storage').select(['availableCapacity', 'allocatedCapacity']).where('uuid', '=', ps).executeTakeFirst();
    const serviceCache = await db().selectFrom('image_cache').select('charged').where('primaryStorageUuid', '=', ps).where('imageUuid', '=', image).executeTakeFirst();
    const volumes = await db().selectFrom('volume').select((eb) => eb.fn.sum<number>('charged').as('charged')).where('primaryStorageUuid', '=', ps).executeTakeFirst();
    return {
      copies, room, available: Number(row?.availableCapacity ?? 0), allocated: Number(row?.allocatedCapacity ?? 0),
      serviceCharge: serviceCache ? Number(serviceCache.charged) : undefined, volumeCharges: Number(volumes?.charged ?? 0),
    };
  };
  /** The storage pays once per copy: the service's row for one, each other copy its own. */
  const expectOneChargePerCopy = (s: Awaited<ReturnType<typeof state>>) => {
    expect(s.copies.filter((x) => x.charged === 0)).toHaveLength(s.copies.length ? 1 : 0);
    for (const x of s.copies.filter((y) => y.charged > 0)) expect(x.charged).toBe(s.serviceCharge);
    expect(s.allocated).toBe(s.volumeCharges + (s.serviceCharge ?? 0) + s.copies.reduce((n, x) => n + x.charged, 0));
  };
  const expunge = async (vmUuid: string) => {
    expect((await c.send('DELETE', `/vm-instances/${vmUuid}`)).status).toBe(200);
    const x = await c.send('PUT', `/vm-instances/${vmUuid}/actions`, { expungeVmInstance: {} });
    expect(x.status, x.text).toBe(200);
  };
  const rootHostOf = async (vmUuid: string) => {
    const r = await db().selectFrom('vm_instance as v').innerJoin('local_storage_resource_ref as r', 'r.resourceUuid', 'v.rootVolumeUuid').select(['v.hostUuid as vmHost', 'r.hostUuid as volumeHost']).where('v.uuid', '=', vmUuid).executeTakeFirstOrThrow();
    return r;
  };

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    const spec = vmWorldSpec('lsc', { hosts: 5 });
    spec.zones![0].primaryStorage![0] = { name: 'lsc-ps', type: 'LocalStorage', url: '/local/lsc' };
    const env = await buildEnvironment(c.url, spec, undefined, { session: c.session });
    hosts = [0, 1, 2, 3, 4].map((i) => env.uuid(`lsc-host-${i}`)).sort();
    ps = env.uuid('lsc-ps');
    image = env.uuid('lsc-image');
    ioUuid = env.uuid('lsc-io');
    l3 = env.uuid('lsc-l3');
  });
  afterAll(async () => {
    fleet()?.reset();
    await t?.stop();
  });

  it('a VM on each of two hosts: each host downloads the image into its own cache once and clones its own copy', async () => {
    const before = await state();
    expect(before.copies).toEqual([]);
    for (const h of [hosts[0], hosts[1], hosts[1], hosts[0]]) {
      const r = await createVm(h);
      expect(r.status, r.text).toBe(200);
      expect(await rootHostOf(r.body.inventory.uuid)).toEqual({ vmHost: h, volumeHost: h });
    }
    expect([downloads(hosts[0]), downloads(hosts[1])]).toEqual([1, 1]);
    for (const h of [hosts[0], hosts[1]]) {
      const clones = fleet().agent(h)!.received.filter((x) => x.path === LocalStorageAgentPaths.createVolumeFromCache);
      expect(clones).toHaveLength(2);
      for (const x of clones) expect(x.body).toMatchObject({ templatePathInCache: cachePath() });
    }
    const after = await state();
    expect(after.copies.map((x) => x.hostUuid)).toEqual([hosts[0], hosts[1]]);
    const size = after.copies[0].size;
    expect(size).toBeGreaterThan(0);
    // Each host gave room to its copy (and its two root volumes); the storage is charged for both copies.
    const rootSizes = async (h: string) => Number((await db().selectFrom('local_storage_resource_ref').select((eb) => eb.fn.sum<number>('size').as('s')).where('primaryStorageUuid', '=', ps).where('hostUuid', '=', h).where('resourceType', '=', 'VolumeVO').executeTakeFirst())?.s ?? 0);
    for (const h of [hosts[0], hosts[1]]) expect(after.room[h]).toBe(before.room[h] - size - (await rootSizes(h)));
    expect(after.room[hosts[2]]).toBe(before.room[hosts[2]]);
    expectOneChargePerCopy(after);
    expect(after.allocated - before.allocated).toBe(after.volumeCharges - before.volumeCharges + 2 * after.serviceCharge!);
  });

  it('a VM placed by the allocator is cloned from its own host\'s copy (downloaded there when it had none)', async () => {
    const r = await createVm();
    expect(r.status, r.text).toBe(200);
    const { vmHost, volumeHost } = await rootHostOf(r.body.inventory.uuid);
    expect(volumeHost).toBe(vmHost);
    expect(downloads(vmHost)).toBe(1);
    expect((await state()).copies.map((x) => x.hostUuid)).toContain(vmHost);
    expectOneChargePerCopy(await state());
  });

  it('concurrent creates on a host without the cache download it once', async () => {
    const have = (await state()).copies.map((x) => x.hostUuid);
    const h = hosts.find((x) => !have.includes(x))!;
    expect(h, 'a host without the cache is left').toBeDefined();
    fleet().agent(h)!.configure(LocalStorageAgentPaths.downloadImage, { delayMs: 300 });
    const rs = await Promise.all([createVm(h), createVm(h), createVm(h)]);
    fleet().agent(h)!.reset();
    for (const r of rs) expect(r.status, r.text).toBe(200);
    expect(downloads(h)).toBe(1);
    const s = await state();
    expect(s.copies.filter((x) => x.hostUuid === h)).toHaveLength(1);
    expectOneChargePerCopy(s);
  });

  it('a failed download leaves no copy and gives the host\'s and the storage\'s room back', async () => {
    const have = (await state()).copies.map((x) => x.hostUuid);
    const h = hosts.find((x) => !have.includes(x));
    expect(h, 'a host without the cache is left').toBeDefined();
    const before = await state();
    fleet().agent(h!)!.configure(LocalStorageAgentPaths.downloadImage, { error: 'simulated: disk full' });
    const r = await createVm(h);
    fleet().agent(h!)!.reset();
    expect(r.status).toBe(503);
    expect(r.text).toMatch(/disk full/);
    expect(await state()).toEqual(before);
    const again = await createVm(h);
    expect(again.status, again.text).toBe(200);
    expect(downloads(h!)).toBe(2);
    expectOneChargePerCopy(await state());
  });

  it('deleting a host forgets its copy and its charge (the first copy hands the service\'s charge on)', async () => {
    const before = await state();
    const first = before.copies.find((x) => x.charged === 0)!;
    // Its VMs go first (a deleted host's local volumes are not this test's subject).
    for (const vm of await db().selectFrom('vm_instance').select('uuid').where('hostUuid', '=', first.hostUuid).execute()) await expunge(vm.uuid);
    const withoutVms = await state();
    expect(withoutVms.copies).toEqual(before.copies);
    expect((await c.send('DELETE', `/hosts/${first.hostUuid}`)).status).toBe(200);
    const after = await state();
    expect(after.copies.map((x) => x.hostUuid)).toEqual(before.copies.map((x) => x.hostUuid).filter((h) => h !== first.hostUuid));
    expectOneChargePerCopy(after);
    // The storage is charged one copy less (the heir's own charge given back).
    expect(withoutVms.allocated - after.allocated).toBe(before.serviceCharge);
  });

  it('deleting the storage asks every host to delete its copy and forgets them all', async () => {
    const holders = (await state()).copies.map((x) => x.hostUuid);
    expect(holders.length).toBeGreaterThan(1);
    for (const vm of await db().selectFrom('vm_instance').select('uuid').execute()) await expunge(vm.uuid);
    const r = await c.send('DELETE', `/primary-storage/${ps}`);
    expect(r.status, r.text).toBe(200);
    for (const h of holders) {
      const deletes = fleet().agent(h)!.received.filter((x) => x.path === LocalStorageAgentPaths.delete && (x.body as { path: string }).path === cachePath());
      expect(deletes, h).toHaveLength(1);
    }
    expect(await db().selectFrom('local_storage_resource_ref').select('resourceUuid').where('primaryStorageUuid', '=', ps).execute()).toEqual([]);
    expect(await db().selectFrom('image_cache').select('id').where('primaryStorageUuid', '=', ps).execute()).toEqual([]);
  });
});
