import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnvironment } from '../src/cli/environment.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { LocalStorageAgentPaths } from '../src/plugins/local-storage/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { vmWorldSpec } from './support/vm-fixture.ts';

/**
 * A VM whose local-storage host was deleted: its root and data volumes and their snapshots were files on
 * that host, gone with it. Expunging the VM (and then its detached data volume) drops their records and
 * what they were charged to the storage, without asking an agent that no longer exists (the expunge used to
 * fail with "unable to find Host").
 */
describe.each(testDatabaseKinds())('a VM on a deleted local-storage host on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let env: Awaited<ReturnType<typeof buildEnvironment>>;
  const db = () => t.node.ctx.db;
  const allocated = async (ps: string) => Number((await db().selectFrom('primary_storage').select('allocatedCapacity').where('uuid', '=', ps).executeTakeFirstOrThrow()).allocatedCapacity);
  const rows = async (table: string, column: string, uuids: string[]) => (await db().selectFrom(table).select(column).where(column, 'in', uuids).execute()).length;

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    const spec = vmWorldSpec('lsdh', { hosts: 2 });
    spec.zones![0].primaryStorage![0] = { name: 'lsdh-ps', type: 'LocalStorage', url: '/local/lsdh' };
    env = await buildEnvironment(c.url, spec, undefined, { session: c.session });
  });
  afterAll(async () => t?.stop());

  it('is destroyed and expunged, then its data volume: no volume, snapshot or storage record left, their charges given back, no agent asked', async () => {
    const [h0, h1] = [env.uuid('lsdh-host-0'), env.uuid('lsdh-host-1')];
    const ps = env.uuid('lsdh-ps');
    // A VM on the other host keeps that host's image cache: what the storage holds after the expunge.
    await c.call('POST', '/vm-instances', { params: { name: 'stays', instanceOfferingUuid: env.uuid('lsdh-io'), imageUuid: env.uuid('lsdh-image'), l3NetworkUuids: [env.uuid('lsdh-l3')], hostUuid: h1 } });
    const before = await allocated(ps);
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'orphan', instanceOfferingUuid: env.uuid('lsdh-io'), imageUuid: env.uuid('lsdh-image'), l3NetworkUuids: [env.uuid('lsdh-l3')], dataDiskOfferingUuids: [env.uuid('lsdh-do')], hostUuid: h0 } })).inventory;
    const volumes = (vm.allVolumes as Array<{ uuid: string }>).map((v) => v.uuid);
    expect(volumes).toHaveLength(2);
    const snap = (await c.call('POST', `/volumes/${vm.rootVolumeUuid}/volume-snapshots`, { params: { name: 'before-the-host-went' } })).inventory.uuid as string;
    expect(await allocated(ps)).toBeGreaterThan(before);

    expect((await c.send('DELETE', `/hosts/${h0}`)).status).toBe(200);
    const deletes = simulatorFleetOf(t.node.ctx).agent(h1)!.count(LocalStorageAgentPaths.delete);
    expect((await c.send('DELETE', `/vm-instances/${vm.uuid}`)).status).toBe(200);
    const x = await c.send('PUT', `/vm-instances/${vm.uuid}/actions`, { expungeVmInstance: {} });
    expect(x.status, x.text).toBe(200);

    expect(await rows('vm_instance', 'uuid', [vm.uuid])).toBe(0);
    expect(await rows('volume', 'uuid', [vm.rootVolumeUuid])).toBe(0);
    // The data volume is detached and kept, as for any expunged VM; deleting it also works without its host.
    const data = volumes.find((v) => v !== vm.rootVolumeUuid)!;
    expect((await db().selectFrom('volume').select('vmInstanceUuid').where('uuid', '=', data).executeTakeFirstOrThrow()).vmInstanceUuid).toBeNull();
    expect((await c.send('DELETE', `/volumes/${data}`)).status).toBe(200);
    const xd = await c.send('PUT', `/volumes/${data}/actions`, { expungeDataVolume: {} });
    expect(xd.status, xd.text).toBe(200);
    expect(await rows('volume', 'uuid', volumes)).toBe(0);
    expect(await rows('volume_snapshot', 'uuid', [snap])).toBe(0);
    expect(await rows('local_storage_resource_ref', 'resourceUuid', [...volumes, snap])).toBe(0);
    expect(await allocated(ps)).toBe(before);
    // the other host's agent was not asked to delete files of the gone host
    expect(simulatorFleetOf(t.node.ctx).agent(h1)!.count(LocalStorageAgentPaths.delete)).toBe(deletes);
  });
});
