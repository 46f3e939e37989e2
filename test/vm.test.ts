import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signReport } from '../src/core/agent/index.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { accounting, buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('VM instances through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const create = (params: Record<string, unknown>, top: Record<string, unknown> = {}) => c.send('POST', '/vm-instances', { params: { name: 'vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], ...params }, ...top });
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const host = async (uuid: string) => db().selectFrom('host').select(['availableCpuCapacity', 'availableMemoryCapacity']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const hostFree = async (uuid: string) => { const h = await host(uuid); return [Number(h.availableCpuCapacity), Number(h.availableMemoryCapacity)]; };
  const vmRow = (uuid: string) => db().selectFrom('vm_instance').selectAll().where('uuid', '=', uuid).executeTakeFirst();

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'vmt');
  });
  afterAll(async () => t?.stop());

  it('creates a running VM with a static IP, a hostname and a data disk, then stops, starts, reboots, pauses, resumes, destroys, recovers and expunges it', async () => {
    const before = await accounting(db(), w);
    const r = await create({ name: 'web1', description: 'd', dataDiskOfferingUuids: [w.diskOffering] }, { systemTags: ['hostname::web1', `staticIp::${w.l3}::10.20.0.77`], userTags: ['prod'] });
    expect(r.status, r.text).toBe(200);
    const vm = r.body.inventory;
    expect(vm).toMatchObject({ name: 'web1', description: 'd', state: 'Running', type: 'UserVm', hypervisorType: 'Simulator', cpuNum: 2, memorySize: 2 * GiB, zoneUuid: w.zone, clusterUuid: w.cluster, imageUuid: w.image, instanceOfferingUuid: w.offering, defaultL3NetworkUuid: w.l3, allocatorStrategy: 'DefaultHostAllocatorStrategy' });
    expect(w.hosts).toContain(vm.hostUuid);
    expect(vm.lastHostUuid).toBe(vm.hostUuid);
    expect(vm.vmNics).toHaveLength(1);
    expect(vm.vmNics[0]).toMatchObject({ l3NetworkUuid: w.l3, ip: '10.20.0.77', netmask: '255.255.255.0', gateway: '10.20.0.1', deviceId: 0, vmInstanceUuid: vm.uuid });
    expect(vm.vmNics[0].mac).toMatch(/^fa(:[0-9a-f]{2}){5}$/);
    expect(vm.allVolumes.map((v: any) => [v.type, v.size, v.status, v.deviceId])).toEqual([['Root', 2 * GiB, 'Ready', 0], ['Data', 5 * GiB, 'Ready', 1]]);
    expect(vm.rootVolumeUuid).toBe(vm.allVolumes[0].uuid);
    const hostUuid = vm.hostUuid as string;
    const other = w.hosts.find((h) => h !== hostUuid)!;
    const [cpu0, mem0] = (before.hosts as any[]).find((h) => h[0] === hostUuid).slice(1);
    expect(await hostFree(hostUuid)).toEqual([cpu0 - 2, mem0 - 2 * GiB]);
    expect(vmsOf(fleet().agent(hostUuid)!)[vm.uuid]).toBe('Running');
    expect((await db().selectFrom('system_tag').select('tag').where('resourceUuid', '=', vm.uuid).execute()).map((x) => x.tag).sort()).toEqual(['hostname::web1', `staticIp::${w.l3}::10.20.0.77`]);

    const stopped = (await action(vm.uuid, { stopVmInstance: { type: 'cold' } })).body.inventory;
    expect(stopped).toMatchObject({ state: 'Stopped', hostUuid: null, lastHostUuid: hostUuid });
    expect(await hostFree(hostUuid)).toEqual([cpu0, mem0]);
    expect(vmsOf(fleet().agent(hostUuid)!)[vm.uuid]).toBe('Stopped');
    expect((await action(vm.uuid, { stopVmInstance: {} })).body.inventory.state).toBe('Stopped');

    const started = (await action(vm.uuid, { startVmInstance: { hostUuid: other } })).body.inventory;
    expect(started).toMatchObject({ state: 'Running', hostUuid: other, lastHostUuid: other });
    expect(await hostFree(hostUuid)).toEqual([cpu0, mem0]);
    expect((await hostFree(other))[1]).toBe(16 * GiB - 2 * GiB);

    expect((await action(vm.uuid, { rebootVmInstance: {} })).body.inventory.state).toBe('Running');
    expect(fleet().agent(other)!.count('/vm/reboot')).toBe(1);
    expect((await action(vm.uuid, { pauseVmInstance: {} })).body.inventory.state).toBe('Paused');
    expect(vmsOf(fleet().agent(other)!)[vm.uuid]).toBe('Paused');
    const rebootPaused = await action(vm.uuid, { rebootVmInstance: {} });
    expect(rebootPaused.body.error.code).toBe('VM.1010');
    expect(rebootPaused.body.error.details).toContain("current vm instance state[Paused] doesn't allow to proceed message[org.zstack.header.vm.APIRebootVmInstanceMsg]");
    expect((await action(vm.uuid, { resumeVmInstance: {} })).body.inventory.state).toBe('Running');
    expect((await action(vm.uuid, { resumeVmInstance: {} })).body.error.code).toBe('VM.1010');

    // A failing agent leaves the VM as it was.
    fleet().agent(other)!.configure('/vm/stop', { error: 'libvirt says no', times: 1 });
    const failedStop = await action(vm.uuid, { stopVmInstance: {} });
    expect(failedStop.body.error.details).toContain('libvirt says no');
    expect((await vmRow(vm.uuid))!.state).toBe('Running');

    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect(await vmRow(vm.uuid)).toMatchObject({ state: 'Destroyed', hostUuid: null, lastHostUuid: other });
    expect((await hostFree(other))[1]).toBe(16 * GiB);
    expect(vmsOf(fleet().agent(other)!)[vm.uuid]).toBeUndefined();
    expect((await action(vm.uuid, { startVmInstance: {} })).body.error.code).toBe('VM.1010');
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    expect((await action(vm.uuid, { recoverVmInstance: {} })).body.inventory.state).toBe('Stopped');
    await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    expect((await action(vm.uuid, { expungeVmInstance: {} })).status).toBe(200);
    expect(await vmRow(vm.uuid)).toBeUndefined();
    const dataVolume = await db().selectFrom('volume').selectAll().where('uuid', '=', vm.allVolumes[1].uuid).executeTakeFirst();
    expect(dataVolume).toMatchObject({ vmInstanceUuid: null, status: 'Ready' });
    expect(await db().selectFrom('volume').select('uuid').where('uuid', '=', vm.rootVolumeUuid).executeTakeFirst()).toBeUndefined();
    const after = await accounting(db(), w);
    // Only the data volume (detached, kept) and the image cache remain of the VM.
    expect(after).toMatchObject({ hosts: before.hosts, usedIps: before.usedIps, vms: before.vms, nics: before.nics, volumes: (before.volumes as number) + 1, systemTags: before.systemTags, userTags: before.userTags });
    await c.call('DELETE', `/volumes/${dataVolume!.uuid}`);
  });

  it('creates a VM stopped (CreateStopped): host chosen then released, root volume made, nothing started', async () => {
    const before = await accounting(db(), w);
    const vm = (await create({ name: 'cold', strategy: 'CreateStopped', cpuNum: 1, memorySize: GiB, instanceOfferingUuid: undefined })).body.inventory;
    expect(vm).toMatchObject({ state: 'Stopped', hostUuid: null, cpuNum: 1, memorySize: GiB });
    expect(w.hosts).toContain(vm.lastHostUuid);
    expect((await accounting(db(), w)).hosts).toEqual(before.hosts);
    expect(fleet().agent(vm.lastHostUuid)!.received.filter((x) => x.path === '/vm/start' && (x.body as any).vmInstanceUuid === vm.uuid)).toHaveLength(0);
    const started = (await action(vm.uuid, { startVmInstance: {} })).body.inventory;
    expect(started.state).toBe('Running');
    await c.call('PUT', '/global-configurations/vm/deletionPolicy/actions', { updateGlobalConfig: { value: 'Direct' } });
    try {
      await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    } finally {
      await c.call('PUT', '/global-configurations/vm/deletionPolicy/actions', { updateGlobalConfig: { value: 'Delay' } });
    }
    expect(await vmRow(vm.uuid)).toBeUndefined();
    const after = await accounting(db(), w);
    expect({ ...after, ps: 0 }).toEqual({ ...before, ps: 0 });
  });

  it('answers nested queries on NICs, zone, host, cluster, image, offering and volumes; QueryVmNic', async () => {
    const vm = (await create({ name: 'queried', l3NetworkUuids: [w.l3, w.l3b], defaultL3NetworkUuid: w.l3b, dataDiskOfferingUuids: [w.diskOffering] })).body.inventory;
    expect(vm.vmNics.map((n: any) => n.deviceId)).toEqual([0, 1]);
    expect(vm.defaultL3NetworkUuid).toBe(w.l3b);
    const ids = async (q: string[]) => (await c.call('GET', `/vm-instances${qs({ q })}`)).inventories.map((x: any) => x.uuid);
    const hostIp = (await db().selectFrom('host').select('managementIp').where('uuid', '=', vm.hostUuid).executeTakeFirstOrThrow()).managementIp as string;
    expect(await ids([`vmNics.ip=${vm.vmNics[0].ip}`])).toEqual([vm.uuid]);
    expect(await ids(['zone.name=vmt-zone', 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids([`host.managementIp=${hostIp}`, 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids(['cluster.name=vmt-cluster', 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids(['image.name=vmt-image', 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids(['instanceOffering.name=vmt-io', 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids([`rootVolume.size>${GiB}`, 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids([`rootVolume.size>${3 * GiB}`, 'name=queried'])).toEqual([]);
    expect(await ids(['allVolumes.type=Data', 'name=queried'])).toEqual([vm.uuid]);
    expect(await ids(['zone.name=nowhere'])).toEqual([]);
    const nics = await c.call('GET', `/vm-instances/nics${qs({ q: ['vmInstance.name=queried', 'l3Network.name=vmt-l3b'] })}`);
    expect(nics.inventories.map((n: any) => n.uuid)).toEqual([vm.vmNics[1].uuid]);
    expect(nics.inventories[0]).not.toHaveProperty('usedIpUuid');
    await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    await c.call('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} });
  });

  it('serializes conflicting operations on one VM in its queue', async () => {
    const vm = (await create({ name: 'queued' })).body.inventory;
    fleet().agent(vm.hostUuid)!.configure('/vm/stop', { delayMs: 300, times: 1 });
    const [stop, pause, start] = await Promise.all([
      action(vm.uuid, { stopVmInstance: {} }),
      new Promise((r) => setTimeout(r, 50)).then(() => action(vm.uuid, { pauseVmInstance: {} })),
      new Promise((r) => setTimeout(r, 100)).then(() => action(vm.uuid, { startVmInstance: {} })),
    ]);
    expect(stop.body.inventory.state).toBe('Stopped');
    // The pause ran after the stop finished, not against a VM half-way through stopping.
    expect(pause.body.error.details).toContain('current vm instance state[Stopped]');
    expect(start.body.inventory.state).toBe('Running');
    await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    await c.call('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} });
  });

  it('reconciles a VM with the state its host reports on the agent→node path', async () => {
    const vm = (await create({ name: 'reported' })).body.inventory;
    const h = vm.hostUuid as string;
    const free = await hostFree(h);
    // Signed by the reporting host's agent, as real agents sign (forged reports: agent-reports.test.ts).
    const report = async (vmState: string, hostUuid = h, commandpath = '/kvm/reportvmstate') => {
      const token = (await db().selectFrom('host').select('agentToken').where('uuid', '=', hostUuid).executeTakeFirstOrThrow()).agentToken as string;
      const body = JSON.stringify({ hostUuid, vmUuid: vm.uuid, vmState });
      return fetch(`${t.url}/zstack/asyncrest/sendcommand`, { method: 'POST', headers: { 'Content-Type': 'application/json', commandpath, ...signReport({ token, agentUuid: hostUuid, commandPath: commandpath, body }) }, body });
    };
    expect((await report('Shutdown')).status).toBe(200);
    expect(await vmRow(vm.uuid)).toMatchObject({ state: 'Stopped', hostUuid: null, lastHostUuid: h });
    expect(await hostFree(h)).toEqual([free[0] + 2, free[1] + 2 * GiB]);
    expect((await report('Running')).status).toBe(200);
    expect(await vmRow(vm.uuid)).toMatchObject({ state: 'Running', hostUuid: h });
    expect(await hostFree(h)).toEqual(free);
    expect((await report('Paused')).status).toBe(200);
    expect((await vmRow(vm.uuid))!.state).toBe('Paused');
    // A host that does not run the VM is not believed.
    const other = w.hosts.find((x) => x !== h)!;
    await report('Stopped', other);
    expect((await vmRow(vm.uuid))!.state).toBe('Paused');
    expect((await report('Running', h, '/kvm/no-such-report')).status).toBe(404);
    await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    await c.call('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} });
  });

  it('refuses what cannot be a VM: unknown resources, no CPU or memory, an L3 twice, a default L3 not in the list, a static IP of another L3, a bad hostname', async () => {
    const before = await accounting(db(), w);
    const bad = async (params: Record<string, unknown>, top: Record<string, unknown> = {}) => (await create(params, top)).body.error;
    expect((await bad({ imageUuid: '0123456789abcdef0123456789abcdef' })).code).toBe('SYS.1003');
    expect((await bad({ instanceOfferingUuid: undefined })).code).toBe('SYS.1007');
    expect((await bad({ l3NetworkUuids: [w.l3, w.l3] })).code).toBe('SYS.1007');
    expect((await bad({ defaultL3NetworkUuid: w.l3b })).code).toBe('SYS.1007');
    expect((await bad({}, { systemTags: [`staticIp::${w.l3b}::172.31.0.12`] })).code).toBe('SYS.1007');
    expect((await bad({}, { systemTags: ['hostname::-nope-'] })).code).toBe('SYS.1007');
    expect(await accounting(db(), w)).toEqual(before);
  });

  it('migrates a running VM to the host given or to one the allocator picks, moving its capacity; a failed migration changes nothing', async () => {
    const vm = (await create({ name: 'mover', hostUuid: w.hosts[0] })).body.inventory;
    const [a, b] = w.hosts;
    const freeA = await hostFree(a);
    const freeB = await hostFree(b);
    fleet().agent(a)!.configure('/vm/migrate', { error: 'migration aborted', times: 1 });
    const failed = await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { migrateVm: {} });
    expect(failed.body.error.details).toContain('migration aborted');
    expect(await vmRow(vm.uuid)).toMatchObject({ state: 'Running', hostUuid: a });
    expect([await hostFree(a), await hostFree(b)]).toEqual([freeA, freeB]);
    const moved = (await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { migrateVm: {} })).body.inventory;
    expect(moved).toMatchObject({ state: 'Running', hostUuid: b, lastHostUuid: a });
    expect(await hostFree(a)).toEqual([freeA[0] + 2, freeA[1] + 2 * GiB]);
    expect(await hostFree(b)).toEqual([freeB[0] - 2, freeB[1] - 2 * GiB]);
    expect(vmsOf(fleet().agent(b)!)[vm.uuid]).toBe('Running');
    expect(vmsOf(fleet().agent(a)!)[vm.uuid]).toBeUndefined();
    const back = (await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { migrateVm: { hostUuid: a } })).body.inventory;
    expect(back.hostUuid).toBe(a);
    expect((await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { migrateVm: { hostUuid: a } })).body.error.code).toBe('SYS.1007');
    await action(vm.uuid, { stopVmInstance: {} });
    expect((await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { migrateVm: {} })).body.error.code).toBe('VM.1010');
    await c.call('DELETE', `/vm-instances/${vm.uuid}`);
    await c.call('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} });
  });

  it('deleting a host stops its VMs and gives their capacity back with the host', async () => {
    const vm = (await create({ name: 'orphan', hostUuid: w.hosts[1] })).body.inventory;
    expect(vm.hostUuid).toBe(w.hosts[1]);
    await c.call('DELETE', `/hosts/${w.hosts[1]}`);
    expect(await vmRow(vm.uuid)).toMatchObject({ state: 'Stopped', hostUuid: null, lastHostUuid: w.hosts[1] });
    w.hosts = [w.hosts[0]];
    const restarted = (await action(vm.uuid, { startVmInstance: {} })).body.inventory;
    expect(restarted).toMatchObject({ state: 'Running', hostUuid: w.hosts[0] });
  });
});
