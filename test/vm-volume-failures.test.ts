import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterDataVolumeAttached, BeforeDataVolumeAttach, type AttachDataVolumeCtx } from '../src/contracts/vm-volume.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import type { InsertionPoint } from '../src/core/flow/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { clearPrimaryStorageFaults, injectPrimaryStorageFault } from '../src/plugins/simulator-primary-storage/index.ts';
import { attachedVolumesOf } from '../src/plugins/simulator-vm/index.ts';
import { stepFailures, type FailWhen } from './support/failing-steps.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { accounting, buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

/** A test-only plugin: a failure at any step of any chain (`failures.at`), with a step at each insertion point of `vm.attachDataVolume`. */
const POINTS: Array<InsertionPoint<AttachDataVolumeCtx>> = [BeforeDataVolumeAttach, AfterDataVolumeAttached];
const failures = stepFailures('test-failing-attach-volume-steps', POINTS);
const WHEN: FailWhen[] = ['before', 'after'];

const without = (row: Record<string, unknown> | undefined, ...keys: string[]) => Object.fromEntries(Object.entries(row ?? {}).filter(([k]) => !keys.includes(k)));

describe.each(testDatabaseKinds())('an attach that fails at any step leaves capacity, the volume and the VM as they were on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const vms: Record<'Running' | 'Stopped', any> = {} as any;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const attach = (volumeUuid: string, vmUuid: string) => c.send('POST', `/volumes/${volumeUuid}/vm-instances/${vmUuid}`, { params: {} });
  const row = (table: string, uuid: string) => db().selectFrom(table).selectAll().where('uuid', '=', uuid).executeTakeFirst();
  const everyPlugged = () => w.hosts.map((h) => JSON.stringify(attachedVolumesOf(fleet().agent(h)!)));
  // lastOpDate moves on a rollback; everything else must be exactly as before.
  const state = async (volumeUuid: string, vmUuid: string) => ({
    accounting: await accounting(db(), w), volume: without(await row('volume', volumeUuid), 'lastOpDate'), vm: without(await row('vm_instance', vmUuid), 'lastOpDate'), plugged: everyPlugged(),
  });

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    w = await buildVmWorld(c, 'vvf');
    for (const s of ['Running', 'Stopped'] as const) {
      vms[s] = (await c.call('POST', '/vm-instances', { params: { name: `vvf-${s}`, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], strategy: s === 'Running' ? 'InstantStart' : 'CreateStopped' } })).inventory;
    }
    expect(vms.Stopped.state).toBe('Stopped');
    // One data volume attached to each already, so a failed attach must also leave the others alone.
    for (const s of ['Running', 'Stopped'] as const) {
      const v = (await c.call('POST', '/volumes/data', { params: { name: `vvf-existing-${s}`, diskSize: GiB } })).inventory;
      await c.call('POST', `/volumes/${v.uuid}/vm-instances/${vms[s].uuid}`, { params: {} });
    }
  });
  afterAll(async () => {
    clearPrimaryStorageFaults();
    await t?.stop();
  });

  for (const vmState of ['Running', 'Stopped'] as const) {
    for (const placed of [false, true]) {
      const volumeKind = placed ? 'a Ready volume' : 'a NotInstantiated volume';
      it(`${vmState} VM, ${volumeKind}, at every step of vm.attachDataVolume (read from the FlowRegistry), before and after its work`, async () => {
        const vm = vms[vmState];
        const steps = failures.stepsOf('vm.attachDataVolume');
        expect(steps).toEqual(expect.arrayContaining(['instantiate-volume', 'attach-on-host'].map((n) => `vm.attachDataVolume/${n}`)));
        expect(steps.filter((p) => p.split('/').length === 3)).toHaveLength(POINTS.length);
        const v = (await c.call('POST', '/volumes/data', { params: { name: 'doomed', diskSize: 2 * GiB, ...(placed ? { primaryStorageUuid: w.primaryStorage } : {}) } })).inventory;
        let skipped = 0;
        for (const path of steps) {
          for (const when of WHEN) {
            const before = await state(v.uuid, vm.uuid);
            const fired = failures.fired;
            failures.at = { path, when };
            let r;
            try {
              r = await attach(v.uuid, vm.uuid);
            } finally {
              failures.at = undefined;
            }
            if (failures.fired === fired) {
              // The step does not run for this VM (attach-on-host for a Stopped one): the attach succeeded; undo it.
              expect(r.status, `${when} ${path}: ${r.text}`).toBe(200);
              expect((await c.send('DELETE', `/volumes/${v.uuid}/vm-instances`)).status).toBe(200);
              skipped++;
              continue;
            }
            expect(r.status, `${when} ${path}: ${r.text}`).toBe(503);
            expect(r.body.error.details, `${when} ${path}`).toContain(failures.message(path, when));
            expect(await state(v.uuid, vm.uuid), `failing ${when} ${path}`).toEqual(before);
          }
        }
        expect(skipped).toBe(vmState === 'Running' ? 0 : WHEN.length);
        // And the same volume attaches once nothing fails.
        const ok = await attach(v.uuid, vm.uuid);
        expect(ok.status, ok.text).toBe(200);
        expect(ok.body.inventory).toMatchObject({ vmInstanceUuid: vm.uuid, status: 'Ready', deviceId: 2 });
        expect((await c.send('DELETE', `/volumes/${v.uuid}/vm-instances`)).status).toBe(200);
      }, 180_000);

      const cases: Array<[string, (vm: any) => void, string]> = [
        ['instantiate (the storage fails to make the volume)', () => injectPrimaryStorageFault(w.primaryStorage, 'createVolume', { times: 1 }), 'injected createVolume failure'],
      ];
      it.each(cases.filter(([name]) => !(placed && name.startsWith('instantiate'))))(`${vmState} VM, ${volumeKind}, at %s`, async (_name, inject, mentions) => {
        const vm = vms[vmState];
        const v = (await c.call('POST', '/volumes/data', { params: { name: 'doomed', diskSize: 2 * GiB, ...(placed ? { primaryStorageUuid: w.primaryStorage } : {}) } })).inventory;
        const before = await state(v.uuid, vm.uuid);
        inject(vm);
        let r;
        try {
          r = await attach(v.uuid, vm.uuid);
        } finally {
          clearPrimaryStorageFaults();
        }
        expect(r.status, r.text).toBe(503);
        expect(r.body.error.details).toContain(mentions);
        expect(await state(v.uuid, vm.uuid)).toEqual(before);
        // And the same volume attaches once nothing fails.
        const ok = await attach(v.uuid, vm.uuid);
        expect(ok.status, ok.text).toBe(200);
        expect(ok.body.inventory).toMatchObject({ vmInstanceUuid: vm.uuid, status: 'Ready', deviceId: 2 });
        expect((await c.send('DELETE', `/volumes/${v.uuid}/vm-instances`)).status).toBe(200);
      });
    }
  }

  it.each([false, true])('Running VM: the host fails /vm/attachdatavolume (volume placed before: %s)', async (placed) => {
    const vm = vms.Running;
    const v = (await c.call('POST', '/volumes/data', { params: { name: 'doomed-agent', diskSize: 2 * GiB, ...(placed ? { primaryStorageUuid: w.primaryStorage } : {}) } })).inventory;
    const before = await state(v.uuid, vm.uuid);
    fleet().configure('/vm/attachdatavolume', { error: 'virtio bus full', times: 1 });
    const r = await attach(v.uuid, vm.uuid);
    expect(r.status, r.text).toBe(503);
    expect(r.body.error.details).toContain('virtio bus full');
    expect(await state(v.uuid, vm.uuid)).toEqual(before);
    expect(before.volume.status).toBe(placed ? 'Ready' : 'NotInstantiated');
  });

  it('two VMs attaching one NotInstantiated volume at once: exactly one gets it, the storage is charged once', async () => {
    const free = async () => Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', w.primaryStorage).executeTakeFirstOrThrow()).availableCapacity);
    for (let round = 0; round < 5; round++) {
      const v = (await c.call('POST', '/volumes/data', { params: { name: `contended-${round}`, diskSize: GiB } })).inventory;
      const before = await free();
      const replies = await Promise.all([attach(v.uuid, vms.Running.uuid), attach(v.uuid, vms.Stopped.uuid)]);
      expect(replies.map((r) => r.status).sort(), replies.map((r) => r.text).join('\n')).toEqual([200, 503]);
      const winner = replies.find((r) => r.status === 200)!.body.inventory.vmInstanceUuid;
      const volume = await row('volume', v.uuid);
      expect(volume).toMatchObject({ vmInstanceUuid: winner, status: 'Ready' });
      expect(await free()).toBe(before - GiB);
      expect((await c.send('DELETE', `/volumes/${v.uuid}/vm-instances`)).status).toBe(200);
    }
  });
});
