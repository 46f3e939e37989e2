import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { attachedVolumesOf } from '../src/plugins/simulator-vm/index.ts';
import { qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('data volumes on VMs through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const createVm = async (name: string) => (await c.call('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory;
  const volume = async (name: string, params: Record<string, unknown> = {}) => (await c.call('POST', '/volumes/data', { params: { name, diskSize: GiB, ...params } })).inventory;
  const attach = (volumeUuid: string, vmUuid: string) => c.send('POST', `/volumes/${volumeUuid}/vm-instances/${vmUuid}`, { params: {} });
  const detach = (volumeUuid: string, vmUuid?: string) => c.send('DELETE', `/volumes/${volumeUuid}/vm-instances${vmUuid ? qs({ vmUuid }) : ''}`);
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const psFree = async (uuid = w.primaryStorage) => Number((await db().selectFrom('primary_storage').select('availableCapacity').where('uuid', '=', uuid).executeTakeFirstOrThrow()).availableCapacity);
  const plugged = (hostUuid: string, vmUuid: string) => attachedVolumesOf(fleet().agent(hostUuid)!)[vmUuid] ?? {};

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'vmv');
  });
  afterAll(async () => t?.stop());

  it('attaches a NotInstantiated volume to a running VM (made on the VM\'s storage, plugged in on its host), lists it in the VM\'s allVolumes, detaches it', async () => {
    const vm = await createVm('vol-running');
    const v = await volume('nowhere');
    expect(v).toMatchObject({ status: 'NotInstantiated', primaryStorageUuid: null, vmInstanceUuid: null });
    const free = await psFree();
    const r = await attach(v.uuid, vm.uuid);
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ uuid: v.uuid, vmInstanceUuid: vm.uuid, deviceId: 1, status: 'Ready', primaryStorageUuid: w.primaryStorage });
    expect(await psFree()).toBe(free - GiB);
    expect(plugged(vm.hostUuid, vm.uuid)).toEqual({ [v.uuid]: 1 });

    const renamed = (await action(vm.uuid, { updateVmInstance: { name: 'vol-running-2' } })).body.inventory;
    expect(renamed.allVolumes.map((x: any) => [x.uuid, x.type, x.deviceId])).toEqual([[vm.rootVolumeUuid, 'Root', 0], [v.uuid, 'Data', 1]]);
    expect((await c.call('GET', `/vm-instances${qs({ q: `allVolumes.uuid=${v.uuid}` })}`)).inventories.map((x: any) => x.uuid)).toEqual([vm.uuid]);
    expect((await c.call('GET', `/volumes${qs({ q: `vmInstanceUuid=${vm.uuid}`, sort: '+deviceId' })}`)).inventories.map((x: any) => x.uuid)).toEqual([vm.rootVolumeUuid, v.uuid]);

    const again = await attach(v.uuid, vm.uuid);
    expect(again.body.error.details).toContain('already attached');
    expect((await c.send('DELETE', `/volumes/${v.uuid}`)).body.error.details).toContain('detach it first');

    // A second volume takes the next device id; detaching the first frees device id 1 for the third.
    const v2 = await volume('placed', { primaryStorageUuid: w.primaryStorage });
    expect((await attach(v2.uuid, vm.uuid)).body.inventory.deviceId).toBe(2);
    const wrongVm = await detach(v.uuid, newUuid());
    expect(wrongVm.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    const other = await createVm('vol-other');
    expect((await detach(v.uuid, other.uuid)).body.error.details).toContain(`not to VM ${other.uuid}`);
    const d = await detach(v.uuid, vm.uuid);
    expect(d.status, d.text).toBe(200);
    expect(d.body.inventory).toMatchObject({ vmInstanceUuid: null, deviceId: null, status: 'Ready' });
    expect(plugged(vm.hostUuid, vm.uuid)).toEqual({ [v2.uuid]: 2 });
    expect((await detach(v.uuid)).body.error.details).toContain('is not attached to any VM');
    const v3 = await volume('third');
    expect((await attach(v3.uuid, vm.uuid)).body.inventory.deviceId).toBe(1);
    expect((await detach(v2.uuid)).status).toBe(200);
    expect(plugged(vm.hostUuid, vm.uuid)).toEqual({ [v3.uuid]: 1 });

    // A host that fails to unplug leaves the volume attached.
    fleet().agent(vm.hostUuid)!.configure('/vm/detachdatavolume', { error: 'device busy', times: 1 });
    expect((await detach(v3.uuid)).body.error.details).toContain('device busy');
    expect((await db().selectFrom('volume').select('vmInstanceUuid').where('uuid', '=', v3.uuid).executeTakeFirstOrThrow()).vmInstanceUuid).toBe(vm.uuid);
  });

  it('attaches and detaches on a stopped VM without asking its host; the volume goes with the VM when it starts', async () => {
    const vm = await createVm('vol-stopped');
    const host = vm.hostUuid as string;
    expect((await action(vm.uuid, { stopVmInstance: {} })).body.inventory.state).toBe('Stopped');
    const sent = fleet().agent(host)!.count('/vm/attachdatavolume');
    const v = await volume('cold');
    const r = await attach(v.uuid, vm.uuid);
    expect(r.status, r.text).toBe(200);
    expect(r.body.inventory).toMatchObject({ vmInstanceUuid: vm.uuid, deviceId: 1, status: 'Ready', primaryStorageUuid: w.primaryStorage });
    expect(fleet().agent(host)!.count('/vm/attachdatavolume')).toBe(sent);
    const started = (await action(vm.uuid, { startVmInstance: {} })).body.inventory;
    expect(started.state).toBe('Running');
    expect(started.allVolumes.map((x: any) => x.uuid)).toEqual([vm.rootVolumeUuid, v.uuid]);
    expect((await action(vm.uuid, { stopVmInstance: {} })).body.inventory.state).toBe('Stopped');
    const detachesSent = fleet().agent(started.hostUuid)!.count('/vm/detachdatavolume');
    expect((await detach(v.uuid, vm.uuid)).body.inventory.vmInstanceUuid).toBeNull();
    expect(fleet().agent(started.hostUuid)!.count('/vm/detachdatavolume')).toBe(detachesSent);
  });

  it('refuses root volumes, paused VMs, disabled volumes, storages the VM cannot reach and unknown uuids, changing nothing', async () => {
    const vm = await createVm('vol-refused');
    const v = await volume('refused');
    expect((await attach(vm.rootVolumeUuid, vm.uuid)).body.error.details).toContain('only data volumes');
    expect((await attach(newUuid(), vm.uuid)).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await attach(v.uuid, newUuid())).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await action(vm.uuid, { pauseVmInstance: {} })).body.inventory.state).toBe('Paused');
    const paused = await attach(v.uuid, vm.uuid);
    expect(paused.body.error.code).toBe('VM.1010');
    expect(paused.body.error.details).toContain('current vm instance state[Paused]');
    expect((await action(vm.uuid, { resumeVmInstance: {} })).body.inventory.state).toBe('Running');
    await c.call('PUT', `/volumes/${v.uuid}/actions`, { changeVolumeState: { stateEvent: 'disable' } });
    expect((await attach(v.uuid, vm.uuid)).body.error.details).toContain('is Disabled');
    const far = (await c.call('POST', '/primary-storage/simulators', { params: { name: 'vmv-far', url: '/sim/vmv-far', zoneUuid: w.zone, totalCapacity: 10 * GiB, availableCapacity: 10 * GiB } })).inventory;
    const unreachable = await volume('unreachable', { primaryStorageUuid: far.uuid });
    expect((await attach(unreachable.uuid, vm.uuid)).body.error.details).toContain('not attached to the cluster');
    expect(await db().selectFrom('volume').select(['vmInstanceUuid']).where('uuid', 'in', [v.uuid, unreachable.uuid]).execute()).toEqual([{ vmInstanceUuid: null }, { vmInstanceUuid: null }]);

    // Candidates: NotInstantiated volumes and Ready ones on a storage of the VM's cluster, Enabled and on no VM.
    const ready = await volume('candidate-ready', { primaryStorageUuid: w.primaryStorage });
    const loose = await volume('candidate-loose');
    const candidates = (await c.call('GET', `/vm-instances/${vm.uuid}/data-volume-candidates`)).inventories.map((x: any) => x.uuid);
    expect(candidates).toEqual(expect.arrayContaining([ready.uuid, loose.uuid]));
    expect(candidates).not.toContain(v.uuid);
    expect(candidates).not.toContain(unreachable.uuid);
    await attach(ready.uuid, vm.uuid);
    expect((await c.call('GET', `/vm-instances/${vm.uuid}/data-volume-candidates`)).inventories.map((x: any) => x.uuid)).not.toContain(ready.uuid);
    expect((await c.send('GET', `/vm-instances/${newUuid()}/data-volume-candidates`)).body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });

  it('snapshots a running VM\'s root volume; a revert is refused while the VM runs and allowed once it is Stopped (data volumes likewise)', async () => {
    const vm = await createVm('vol-snap');
    const snap = await c.send('POST', `/volumes/${vm.rootVolumeUuid}/volume-snapshots`, { params: { name: 'root-1' } });
    expect(snap.status, snap.text).toBe(200);
    expect(snap.body.inventory).toMatchObject({ volumeUuid: vm.rootVolumeUuid, volumeType: 'Root', status: 'Ready', latest: true });
    await c.call('POST', `/volumes/${vm.rootVolumeUuid}/volume-snapshots`, { params: { name: 'root-2' } });
    const refused = await c.send('PUT', `/volume-snapshots/${snap.body.inventory.uuid}/actions`, { revertVolumeFromSnapshot: {} });
    expect(refused.body.error.code).toBe('VM.1010');
    expect(refused.body.error.details).toContain('is Running, it must be Stopped');
    const latest = async () => ((await c.call('GET', `/volume-snapshots${qs({ q: [`volumeUuid=${vm.rootVolumeUuid}`, 'latest=true'] })}`)).inventories as any[]).map((s) => s.name);
    expect(await latest()).toEqual(['root-2']);

    const data = await volume('snap-data');
    await attach(data.uuid, vm.uuid);
    const dataSnap = (await c.call('POST', `/volumes/${data.uuid}/volume-snapshots`, { params: { name: 'data-1' } })).inventory;
    expect((await c.send('PUT', `/volume-snapshots/${dataSnap.uuid}/actions`, { revertVolumeFromSnapshot: {} })).body.error.code).toBe('VM.1010');

    await action(vm.uuid, { stopVmInstance: {} });
    const reverted = await c.send('PUT', `/volume-snapshots/${snap.body.inventory.uuid}/actions`, { revertVolumeFromSnapshot: {} });
    expect(reverted.status, reverted.text).toBe(200);
    expect(await latest()).toEqual(['root-1']);
    expect((await c.send('PUT', `/volume-snapshots/${dataSnap.uuid}/actions`, { revertVolumeFromSnapshot: {} })).status).toBe(200);

    // A detached data volume can be reverted whatever the VM does.
    await action(vm.uuid, { startVmInstance: {} });
    await detach(data.uuid);
    expect((await c.send('PUT', `/volume-snapshots/${dataSnap.uuid}/actions`, { revertVolumeFromSnapshot: {} })).status).toBe(200);
  });
});
