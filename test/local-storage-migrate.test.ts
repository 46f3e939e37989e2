import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnvironment } from '../src/cli/environment.ts';
import { VmAgentPaths } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { LocalStorageAgentPaths } from '../src/plugins/local-storage/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { stepFailures } from './support/failing-steps.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { vmWorldSpec } from './support/vm-fixture.ts';

const failures = stepFailures('test-failing-local-storage-migrate');

/**
 * MigrateVm of a VM on local storage (simulated hosts answer the agent commands): the volumes' records
 * and their room move from the source host to the target, the target gets the image cache first, and
 * `/vm/migrate` asks the agents to copy the disks. A failure before or after any step of `vm.migrate`
 * (inserted steps included) leaves the records, capacity and VM as they were.
 */
describe.each(testDatabaseKinds())('MigrateVm of a VM on local storage on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let hosts: string[];
  let ps: string;
  let image: string;
  let vm: string;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const migrate = (hostUuid: string) => c.send('PUT', `/vm-instances/${vm}/actions`, { migrateVm: { hostUuid } });
  /** Everything a migration moves: where the VM and each volume are recorded, each host's room, where QEMU runs. */
  const state = async () => ({
    vm: await db().selectFrom('vm_instance').select(['state', 'hostUuid', 'lastHostUuid']).where('uuid', '=', vm).executeTakeFirstOrThrow(),
    refs: (await db().selectFrom('local_storage_resource_ref').select(['resourceUuid', 'hostUuid', 'resourceType', 'size']).where('primaryStorageUuid', '=', ps).orderBy('resourceUuid').orderBy('hostUuid').execute()).map((r) => ({ ...r, size: Number(r.size) })),
    room: Object.fromEntries((await db().selectFrom('local_storage_host_ref').select(['hostUuid', 'availableCapacity']).where('primaryStorageUuid', '=', ps).execute()).map((r) => [r.hostUuid, Number(r.availableCapacity)])),
    runs: hosts.filter((h) => vmsOf(fleet().agent(h)!)[vm] === 'Running'),
  });

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    const spec = vmWorldSpec('lsm', { hosts: 3 });
    spec.zones![0].primaryStorage![0] = { name: 'lsm-ps', type: 'LocalStorage', url: '/local/lsm' };
    const env = await buildEnvironment(c.url, spec, undefined, { session: c.session });
    hosts = [env.uuid('lsm-host-0'), env.uuid('lsm-host-1'), env.uuid('lsm-host-2')].sort();
    ps = env.uuid('lsm-ps');
    image = env.uuid('lsm-image');
    // Both hosts have the same room: the image cache goes to the first by uuid, so the VM is made there.
    vm = (await c.call('POST', '/vm-instances', { params: { name: 'lsm-vm', instanceOfferingUuid: env.uuid('lsm-io'), imageUuid: image, l3NetworkUuids: [env.uuid('lsm-l3')], dataDiskOfferingUuids: [env.uuid('lsm-do')], hostUuid: hosts[0] } })).inventory.uuid;
  });
  afterAll(async () => {
    fleet()?.reset();
    await t?.stop();
  });

  it('leaves everything as it was when a failure hits any step, before or after its work', async () => {
    const before = await state();
    expect(before.vm).toMatchObject({ state: 'Running', hostUuid: hosts[0] });
    expect(before.refs.filter((r) => r.resourceType === 'VolumeVO').map((r) => r.hostUuid)).toEqual([hosts[0], hosts[0]]);
    const steps = failures.stepsOf('vm.migrate');
    expect(steps).toEqual(expect.arrayContaining(['vm.migrate/vm.migrate.afterTargetAllocated/local-storage-migrate-prepare', 'vm.migrate/vm.migrate.afterMigratedOnHost/local-storage-migrate-records']));
    for (const path of steps) {
      for (const when of ['before', 'after'] as const) {
        failures.at = { path, when };
        const r = await migrate(hosts[1]);
        failures.at = undefined;
        expect(r.status, `${when} ${path}: ${r.text}`).toBe(503);
        const after = await state();
        // The image cache the target got stays only if a later failure came after the records moved; compare without it.
        const noCacheOnTarget = (s: typeof before) => ({ ...s, refs: s.refs.filter((x) => !(x.resourceUuid === image && x.hostUuid === hosts[1])), room: { ...s.room, [hosts[1]]: 0 } });
        expect(noCacheOnTarget(after), `${when} ${path}`).toEqual(noCacheOnTarget(before));
        const cache = after.refs.find((x) => x.resourceUuid === image && x.hostUuid === hosts[1]);
        expect(after.room[hosts[1]], `${when} ${path}`).toBe(before.room[hosts[1]] - (cache?.size ?? 0));
      }
    }
  });

  it('moves the VM, its volumes\' records and their room to the target, which gets the image cache; the agent is asked to copy the disks', async () => {
    const before = await state();
    const sent = fleet().agent(hosts[0])!.received.length;
    const r = await migrate(hosts[1]);
    expect(r.status, r.text).toBe(200);
    const after = await state();
    expect(after.vm).toEqual({ state: 'Running', hostUuid: hosts[1], lastHostUuid: hosts[0] });
    expect(after.runs).toEqual([hosts[1]]);
    const volumes = before.refs.filter((x) => x.resourceType === 'VolumeVO');
    expect(after.refs.filter((x) => x.resourceType === 'VolumeVO')).toEqual(volumes.map((v) => ({ ...v, hostUuid: hosts[1] })));
    const moved = volumes.reduce((s, v) => s + v.size, 0);
    const cache = after.refs.find((x) => x.resourceUuid === image && x.hostUuid === hosts[1])!;
    expect(cache.resourceType).toBe('ImageCacheVO');
    expect(after.refs.find((x) => x.resourceUuid === image && x.hostUuid === hosts[0])).toBeDefined();
    expect(after.room[hosts[0]]).toBe(before.room[hosts[0]] + moved);
    expect(after.room[hosts[1]]).toBe(before.room[hosts[1]] - moved - (before.refs.some((x) => x.resourceUuid === image && x.hostUuid === hosts[1]) ? 0 : cache.size));
    const cmd = fleet().agent(hosts[0])!.received.slice(sent).find((x) => x.path === VmAgentPaths.migrate)!;
    expect(cmd.body).toMatchObject({ vmInstanceUuid: vm, destHostUuid: hosts[1], storageMigrationPolicy: 'IncCopy' });
    expect(fleet().agent(hosts[1])!.count(LocalStorageAgentPaths.downloadImage)).toBeGreaterThan(0);
  });

  it('migrates it back; to a host without the cache once no backup storage has the image: no cache made there (the agents copy the disks whole)', async () => {
    expect((await migrate(hosts[0])).status).toBe(200);
    expect((await state()).vm.hostUuid).toBe(hosts[0]);
    await c.call('DELETE', `/images/${image}`);
    const r = await migrate(hosts[2]);
    expect(r.status, r.text).toBe(200);
    const after = await state();
    expect(after.vm.hostUuid).toBe(hosts[2]);
    expect(after.refs.filter((x) => x.resourceType === 'VolumeVO').map((x) => x.hostUuid)).toEqual([hosts[2], hosts[2]]);
    expect(after.refs.find((x) => x.resourceUuid === image && x.hostUuid === hosts[2])).toBeUndefined();
    expect(fleet().agent(hosts[2])!.count(LocalStorageAgentPaths.downloadImage)).toBe(0);
    expect((await migrate(hosts[0])).status).toBe(200);
  });

  it('refuses a VM with a snapshot on local storage', async () => {
    const root = await db().selectFrom('vm_instance').select('rootVolumeUuid').where('uuid', '=', vm).executeTakeFirstOrThrow();
    await c.call('POST', `/volumes/${root.rootVolumeUuid}/volume-snapshots`, { params: { name: 'lsm-snap' } });
    const before = await state();
    const r = await migrate(hosts[1]);
    expect(r.status).toBe(503);
    expect(r.body.error.details).toMatch(/has snapshots/);
    expect(await state()).toEqual(before);
  });
});
