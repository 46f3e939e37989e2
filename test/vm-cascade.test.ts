import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, GiB } from './support/vm-fixture.ts';

/** Deleting a zone with running VMs removes everything beneath it and leaks nothing (issue 3 §9). */
describe.each(testDatabaseKinds())('deleting infrastructure that VMs use, on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
  }, 60_000);
  afterAll(async () => t?.stop());

  const count = async (table: string, column: string, value: string) => Number((await t.node.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where(column, '=', value).executeTakeFirstOrThrow()).n);

  async function vmIn(w: Awaited<ReturnType<typeof buildVmWorld>>, name: string): Promise<string> {
    const r = await c.call('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], dataDiskOfferingUuids: [w.diskOffering] } });
    expect(r.inventory.state).toBe('Running');
    return r.inventory.uuid;
  }

  it('a Permissive zone delete removes its running VMs, their volumes, NICs and IPs with the rest', async () => {
    const w = await buildVmWorld(c, 'cz1', { subnet: '10.61.0' });
    const vm = await vmIn(w, 'cz1-vm');
    const del = await c.send('DELETE', `/zones/${w.zone}?deleteMode=Permissive`);
    expect(del.status, del.text).toBe(200);
    expect(await count('vm_instance', 'uuid', vm)).toBe(0);
    expect(await count('vm_nic', 'vmInstanceUuid', vm)).toBe(0);
    expect(await count('volume', 'vmInstanceUuid', vm)).toBe(0);
    expect(await count('used_ip', 'l3NetworkUuid', w.l3)).toBe(0);
    expect(await count('host', 'zoneUuid', w.zone)).toBe(0);
    expect(await count('primary_storage', 'zoneUuid', w.zone)).toBe(0);
    // the backup storage is attached, not owned: it stays, with the image
    expect(await count('backup_storage', 'uuid', w.backupStorage)).toBe(1);
  });

  it('deleting a host stops its VMs and gives their capacity back; the VMs can start elsewhere', async () => {
    const w = await buildVmWorld(c, 'cz2', { subnet: '10.62.0', hosts: 2, cpu: 8, memory: 16 * GiB });
    const vm = await vmIn(w, 'cz2-vm');
    const host = (await c.call('GET', `/vm-instances/${vm}`)).inventories[0].hostUuid as string;
    expect((await c.send('DELETE', `/hosts/${host}`)).status).toBe(200);
    const after = (await c.call('GET', `/vm-instances/${vm}`)).inventories[0];
    expect(after.state).toBe('Stopped');
    expect(after.hostUuid ?? null).toBeNull();
    const started = await c.call('PUT', `/vm-instances/${vm}/actions`, { startVmInstance: {} });
    expect(started.inventory.state).toBe('Running');
    expect(started.inventory.hostUuid).not.toBe(host);
  });
});
