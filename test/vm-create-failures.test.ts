import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterVmHostAllocated, AfterVmInstantiated, AfterVmPersisted, AfterVmVolumesAllocated, BeforeVmInstantiate, type CreateVmCtx } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import type { InsertionPoint } from '../src/core/flow/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { clearPrimaryStorageFaults, injectPrimaryStorageFault } from '../src/plugins/simulator-primary-storage/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { stepFailures, type FailWhen } from './support/failing-steps.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { accounting, buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

/** A test-only plugin: a failure at any step of any chain (`failures.at`), with a step at each insertion point of `vm.create`. */
const POINTS: Array<InsertionPoint<CreateVmCtx>> = [AfterVmPersisted, AfterVmHostAllocated, AfterVmVolumesAllocated, BeforeVmInstantiate, AfterVmInstantiated];
const failures = stepFailures('test-failing-vm-steps', POINTS);
const WHEN: FailWhen[] = ['before', 'after'];

describe.each(testDatabaseKinds())('a VM create that fails at any step gives everything back on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const create = (params: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => c.send('POST', '/vm-instances', { params: { name: 'doomed', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3, w.l3b], dataDiskOfferingUuids: [w.diskOffering, w.diskOffering], ...params }, systemTags: ['hostname::doomed'], userTags: ['doomed'], ...top });

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    w = await buildVmWorld(c, 'vmf');
    // One VM first: the image cache on the primary storage exists from then on (it is shared, and kept as ZStack keeps it).
    const first = await create({ name: 'first' });
    expect(first.status, first.text).toBe(200);
  });
  afterAll(async () => {
    clearPrimaryStorageFaults();
    await t?.stop();
  });

  const expectNothingChanged = async (r: { status: number; body: any; text: string }, before: Record<string, unknown>, mentions: string) => {
    expect(r.status, r.text).toBe(503);
    expect(r.body.error.details).toContain(mentions);
    expect(await accounting(db(), w)).toEqual(before);
    expect(await db().selectFrom('vm_instance').select('uuid').where('name', '=', 'doomed').execute()).toEqual([]);
  };

  it('at every step of vm.create (read from the FlowRegistry, inserted ones included), before and after its work', async () => {
    const steps = failures.stepsOf('vm.create');
    expect(steps).toEqual(expect.arrayContaining(['persist-vm', 'allocate-host', 'select-backup-storage', 'allocate-root-volume', 'allocate-data-volumes', 'allocate-nics', 'start-on-host', 'finish-create'].map((n) => `vm.create/${n}`)));
    expect(steps.filter((p) => p.split('/').length === 3)).toHaveLength(POINTS.length);
    for (const path of steps) {
      for (const when of WHEN) {
        const before = await accounting(db(), w);
        const fired = failures.fired;
        failures.at = { path, when };
        try {
          await expectNothingChanged(await create(), before, failures.message(path, when));
          const everyAgentVms = w.hosts.flatMap((h) => Object.keys(vmsOf(simulatorFleetOf(t.node.ctx).agent(h)!)));
          expect(everyAgentVms).toHaveLength(1); // only the first VM: a VM started then rolled back was destroyed on its host
        } catch (e) {
          throw new Error(`failing ${when} ${path}: ${(e as Error).message}`, { cause: e });
        } finally {
          failures.at = undefined;
        }
        expect(failures.fired, `failing ${when} ${path} fired`).toBe(fired + 1);
      }
    }
  }, 180_000);

  it('at allocate-host (no host has the room)', async () => {
    const before = await accounting(db(), w);
    await expectNothingChanged(await create({ instanceOfferingUuid: undefined, cpuNum: 1, memorySize: 1024 ** 4 }), before, 'bytes are needed');
  });

  it('at select-backup-storage (the image is on no backup storage of the zone)', async () => {
    await c.call('DELETE', `/zones/${w.zone}/backup-storage/${w.backupStorage}`);
    try {
      const before = await accounting(db(), w);
      await expectNothingChanged(await create(), before, 'has a Ready copy of image');
    } finally {
      await c.call('POST', `/zones/${w.zone}/backup-storage/${w.backupStorage}`, { params: {} });
    }
  });

  it('at allocate-root-volume (the storage fails to make the root volume)', async () => {
    const before = await accounting(db(), w);
    injectPrimaryStorageFault(w.primaryStorage, 'createVolume', { times: 1 });
    await expectNothingChanged(await create(), before, 'injected createVolume failure');
  });

  it('at allocate-data-volumes (the second data volume does not fit: the root and the first are taken back)', async () => {
    const before = await accounting(db(), w);
    const free = Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', w.primaryStorage).executeTakeFirstOrThrow()).availableCapacity);
    // Room for the root volume (2 GiB) and one data volume (5 GiB), not for the second.
    const filler = await c.call('POST', '/volumes/data', { params: { name: 'filler', diskSize: free - 8 * GiB, primaryStorageUuid: w.primaryStorage } });
    try {
      await expectNothingChanged(await create(), await accounting(db(), w), 'bytes available');
    } finally {
      await c.call('DELETE', `/volumes/${filler.inventory.uuid}`);
      await c.call('PUT', `/volumes/${filler.inventory.uuid}/actions`, { expungeDataVolume: {} });
    }
    expect(await accounting(db(), w)).toEqual(before);
  });

  it('at allocate-nics (the static IP of the second L3 is taken: the first NIC\'s IP is given back)', async () => {
    const taken = (await c.call('GET', `/vm-instances/nics?q=l3NetworkUuid=${w.l3b}`)).inventories[0].ip as string;
    const before = await accounting(db(), w);
    await expectNothingChanged(await create({}, { systemTags: ['hostname::doomed', `staticIp::${w.l3b}::${taken}`] }), before, taken);
  });

  it('at start-on-host (the agent fails /vm/start)', async () => {
    const before = await accounting(db(), w);
    simulatorFleetOf(t.node.ctx).configure('/vm/start', { error: 'qemu crashed', times: 1 });
    await expectNothingChanged(await create(), before, 'qemu crashed');
  });

  it('and a create after all those failures still works', async () => {
    const r = await create({ name: 'survivor' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory.state).toBe('Running');
  });
});
