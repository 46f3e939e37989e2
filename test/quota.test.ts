import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { createTenant } from './support/tenants.ts';
import { buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('quotas on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let w: VmWorld;
  let a: { uuid: string; client: TestClient };
  let b: { uuid: string; client: TestClient };

  const setQuota = (account: string, name: string, value: number) => admin.call('PUT', '/accounts/quotas/actions', { updateQuota: { identityUuid: account, name, value } });
  const usage = async (c: TestClient, account: string) => Object.fromEntries((await c.call('GET', `/accounts/quota/${account}/usages`)).usages.map((u: any) => [u.name, u]));
  const used = async (account: string, name: string) => (await usage(admin, account))[name].used as number;
  const createVm = (c: TestClient, name: string, extra: Record<string, unknown> = {}) => c.send('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], ...extra } });

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    w = await buildVmWorld(admin, 'quota', { hosts: 2, cpu: 64, memory: 256 * GiB });
    await admin.call('PUT', '/accounts/resources/actions', { shareResource: { resourceUuids: [w.image, w.l3, w.offering, w.diskOffering], toPublic: true } });
    a = await createTenant(t, 'quota-a');
    b = await createTenant(t, 'quota-b');
  }, 120_000);
  afterAll(async () => t?.stop());

  it('lists every quota of an account with its default, to the account itself and to the administrator', async () => {
    const mine = (await a.client.call('GET', '/accounts/quotas')).inventories;
    expect(mine.map((q: any) => q.name).sort()).toEqual(['eip.num', 'image.num', 'image.size', 'l3.num', 'securityGroup.num', 'snapshot.volume.num', 'vip.num', 'vm.cpuNum', 'vm.memorySize', 'vm.num', 'vm.totalNum', 'volume.capacity', 'volume.data.num']);
    expect(mine.every((q: any) => q.identityUuid === a.uuid && q.identityType === 'AccountVO')).toBe(true);
    expect(mine.find((q: any) => q.name === 'vm.num').value).toBe(20);
    const all = (await admin.call('GET', `/accounts/quotas${qs({ q: ['name=vm.num'] })}`)).inventories;
    expect(all.map((q: any) => q.identityUuid).sort()).toEqual([a.uuid, b.uuid].sort());
    expect((await setQuota(a.uuid, 'vip.num', 3)).inventory).toMatchObject({ identityUuid: a.uuid, name: 'vip.num', value: 3 });
    expect((await a.client.call('GET', `/accounts/quotas${qs({ q: ['name=vip.num'] })}`)).inventories[0].value).toBe(3);
    // A tenant can neither change its quotas nor read another account's usage (answered as a missing account).
    expect((await a.client.send('PUT', '/accounts/quotas/actions', { updateQuota: { identityUuid: a.uuid, name: 'vip.num', value: 100 } })).body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
    const other = await a.client.send('GET', `/accounts/quota/${b.uuid}/usages`);
    const missing = newUuid();
    const none = await a.client.send('GET', `/accounts/quota/${missing}/usages`);
    expect(other.status).toBe(503);
    expect(other.body.error.details.replace(b.uuid, 'U')).toBe(none.body.error.details.replace(missing, 'U'));
    expect((await admin.send('PUT', '/accounts/quotas/actions', { updateQuota: { identityUuid: a.uuid, name: 'no.such.quota', value: 1 } })).body.error.details).toContain('unknown quota');
    // Defaults live in global configuration: an account listed after a change gets the new default.
    await admin.call('PUT', '/global-configurations/quota/eip.num/actions', { updateGlobalConfig: { value: '7' } });
    const late = await createTenant(t, 'quota-late');
    expect((await late.client.call('GET', `/accounts/quotas${qs({ q: ['name=eip.num'] })}`)).inventories.map((q: any) => q.value)).toEqual([7]);
    expect((await usage(late.client, late.uuid))['eip.num']).toEqual({ name: 'eip.num', used: 0, total: 7 });
  });

  it('50 concurrent creates against a quota of 10: exactly 10 succeed, and a delete gives one back', async () => {
    await setQuota(a.uuid, 'securityGroup.num', 10);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => a.client.send('POST', '/security-groups', { params: { name: `sg-${i}` } })));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(10);
    expect(results.filter((r) => r.status !== 200).every((r) => r.body.error.code === IdentityErrors.QUOTA_EXCEEDING.code)).toBe(true);
    expect((await a.client.call('GET', `/security-groups${qs({ count: true })}`)).total).toBe(10);
    expect(await used(a.uuid, 'securityGroup.num')).toBe(10);
    // Another account's quota is its own.
    expect((await b.client.send('POST', '/security-groups', { params: { name: 'b-sg' } })).status).toBe(200);
    await a.client.call('DELETE', `/security-groups/${ok[0].body.inventory.uuid}`);
    await waitFor('the delete gives the quota back', async () => (await used(a.uuid, 'securityGroup.num')) === 9);
    expect((await a.client.send('POST', '/security-groups', { params: { name: 'sg-again' } })).status).toBe(200);
    expect((await a.client.send('POST', '/security-groups', { params: { name: 'sg-over' } })).body.error.code).toBe(IdentityErrors.QUOTA_EXCEEDING.code);
  }, 120_000);

  it('running VMs, vCPUs and memory are charged while VMs run; concurrent VM creates never exceed the total', async () => {
    await setQuota(b.uuid, 'vm.cpuNum', 4); // the offering has 2 vCPUs: two running VMs
    await setQuota(b.uuid, 'vm.totalNum', 3);
    const vms = await Promise.all(Array.from({ length: 5 }, (_, i) => createVm(b.client, `b-vm-${i}`)));
    const created = vms.filter((r) => r.status === 200).map((r) => r.body.inventory);
    expect(created).toHaveLength(2);
    expect(vms.filter((r) => r.status !== 200).every((r) => r.body.error.code === IdentityErrors.QUOTA_EXCEEDING.code)).toBe(true);
    expect(await usage(b.client, b.uuid)).toMatchObject({ 'vm.num': { used: 2 }, 'vm.cpuNum': { used: 4, total: 4 }, 'vm.memorySize': { used: 4 * GiB }, 'vm.totalNum': { used: 2, total: 3 } });
    // A stopped VM does not count as running; a third VM may be made stopped, not started while two run.
    const stopped = (await createVm(b.client, 'b-vm-stopped', { strategy: 'CreateStopped' })).body.inventory;
    expect(stopped.state).toBe('Stopped');
    expect((await b.client.send('PUT', `/vm-instances/${stopped.uuid}/actions`, { startVmInstance: {} })).body.error.code).toBe(IdentityErrors.QUOTA_EXCEEDING.code);
    expect((await createVm(b.client, 'b-vm-4', { strategy: 'CreateStopped' })).body.error.code).toBe(IdentityErrors.QUOTA_EXCEEDING.code); // vm.totalNum
    await b.client.call('PUT', `/vm-instances/${created[0].uuid}/actions`, { stopVmInstance: {} });
    await waitFor('the stop gives vCPUs back', async () => (await used(b.uuid, 'vm.cpuNum')) === 2);
    expect((await b.client.call('PUT', `/vm-instances/${stopped.uuid}/actions`, { startVmInstance: {} })).inventory.state).toBe('Running');
    expect(await usage(b.client, b.uuid)).toMatchObject({ 'vm.num': { used: 2 }, 'vm.cpuNum': { used: 4 }, 'vm.totalNum': { used: 3 } });
    // Destroy gives back what runs; expunge gives back the VM itself.
    await b.client.call('DELETE', `/vm-instances/${created[1].uuid}`);
    await waitFor('destroy gives the running charges back', async () => (await used(b.uuid, 'vm.num')) === 1);
    expect(await used(b.uuid, 'vm.totalNum')).toBe(3);
    await b.client.call('PUT', `/vm-instances/${created[1].uuid}/actions`, { expungeVmInstance: {} });
    await waitFor('expunge gives the VM back', async () => (await used(b.uuid, 'vm.totalNum')) === 2);
  }, 120_000);

  it('images count by number and by size (known once downloaded: a new image is refused once the size is reached)', async () => {
    const MiB = 1024 ** 2;
    await setQuota(b.uuid, 'image.size', 3 * MiB);
    await setQuota(b.uuid, 'image.num', 5);
    const add = (name: string) => b.client.send('POST', '/images', { params: { name, url: `http://images.example/${name}.qcow2?size=${2 * MiB}`, format: 'qcow2', backupStorageUuids: [w.backupStorage] } });
    const first = await add('q-img-1');
    expect(first.status, first.text).toBe(200);
    await waitFor('the size is charged once known', async () => (await used(b.uuid, 'image.size')) === 2 * MiB);
    expect((await add('q-img-2')).status).toBe(200); // 2 MiB used < 3 MiB: still allowed
    await waitFor('both sizes are charged', async () => (await used(b.uuid, 'image.size')) === 4 * MiB);
    expect((await add('q-img-3')).body.error.code).toBe(IdentityErrors.QUOTA_EXCEEDING.code);
    expect(await used(b.uuid, 'image.num')).toBe(2);
    await b.client.call('DELETE', `/images/${first.body.inventory.uuid}`);
    await waitFor('a deleted image gives its number and size back', async () => (await used(b.uuid, 'image.size')) === 2 * MiB && (await used(b.uuid, 'image.num')) === 1);
  });

  it('data volumes count by number and capacity; a failed create takes nothing', async () => {
    await setQuota(a.uuid, 'volume.capacity', 12 * GiB);
    const vol = async (diskSize: number) => a.client.send('POST', '/volumes/data', { params: { name: 'qv', diskSize } });
    expect((await vol(5 * GiB)).status).toBe(200);
    expect((await vol(5 * GiB)).status).toBe(200);
    expect((await vol(5 * GiB)).body.error.code).toBe(IdentityErrors.QUOTA_EXCEEDING.code);
    const before = await usage(a.client, a.uuid);
    expect(before['volume.capacity'].used).toBe(10 * GiB);
    expect(before['volume.data.num'].used).toBe(2);
    const failed = await a.client.send('POST', '/volumes/data', { params: { name: 'qv-bad', diskOfferingUuid: newUuid() } });
    expect(failed.status).toBe(503);
    await new Promise((r) => setTimeout(r, 200)); // the reservation is given back just after the failed reply
    expect(await usage(a.client, a.uuid)).toEqual(before);
    expect((await vol(2 * GiB)).status).toBe(200);
  });
});
