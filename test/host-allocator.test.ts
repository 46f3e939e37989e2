import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostAllocatorMessages, type AllocateHostReply, type AllocateHostRequest } from '../src/contracts/host-allocator.ts';
import { HostMessages } from '../src/contracts/host.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { createCluster, createZone } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;

describe.each(testDatabaseKinds())('host allocation on simulated hosts on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  let ipSeq = 0;
  const db = () => t.node.ctx.db;
  const bus = () => t.node.ctx.bus;
  const nextIp = () => `10.7.${Math.floor(++ipSeq / 250)}.${(ipSeq % 250) + 1}`;
  /** A Simulator cluster of its own per test, so that tests do not see each other's hosts. */
  const cluster = async (name: string, extra: Record<string, unknown> = {}) => (await createCluster(c, zoneUuid, name, { hypervisorType: 'Simulator', ...extra })).uuid as string;
  const addHost = async (clusterUuid: string, name: string, cpu = 4, memGiB = 8, top: Record<string, unknown> = {}) =>
    (await c.call('POST', '/hosts/simulators', { params: { name, managementIp: nextIp(), clusterUuid, cpuCapacity: cpu, memoryCapacity: memGiB * GiB }, ...top })).inventory;
  const allocate = (req: Partial<AllocateHostRequest>) => bus().call<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, { cpuNum: 1, memorySize: GiB, ...req });
  const tryAllocate = (req: Partial<AllocateHostRequest>) => bus().send<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, { cpuNum: 1, memorySize: GiB, ...req });
  const hostRow = (uuid: string) => db().selectFrom('host').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const reserve = (hostUuid: string, cpuNum: number, memorySize: number) => bus().call('host', HostMessages.reserveCapacity, { hostUuid, cpuNum, memorySize }, { resourceUuid: hostUuid });

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    zoneUuid = (await createZone(c, 'alloc-zone')).uuid;
  });
  afterAll(async () => t?.stop());

  it('reserves the capacity on the chosen host with the default strategy, spreads at random, and releases it', async () => {
    const cl = await cluster('alloc-default');
    const hosts = [await addHost(cl, 'd1'), await addHost(cl, 'd2'), await addHost(cl, 'd3')];
    const r = await allocate({ clusterUuids: [cl], cpuNum: 2, memorySize: 2 * GiB });
    expect(r).toMatchObject({ clusterUuid: cl, zoneUuid, cpuNum: 2, memorySize: 2 * GiB, allocatorStrategy: 'DefaultHostAllocatorStrategy' });
    const chosen = await hostRow(r.hostUuid);
    expect([Number(chosen.availableCpuCapacity), Number(chosen.availableMemoryCapacity)]).toEqual([38, 6 * GiB]);
    await bus().call('hostAllocator', HostAllocatorMessages.release, { hostUuid: r.hostUuid, cpuNum: 2, memorySize: 2 * GiB });
    expect(Number((await hostRow(r.hostUuid)).availableCpuCapacity)).toBe(40);

    const picks = new Set<string>();
    for (let i = 0; i < 30; i++) picks.add((await allocate({ clusterUuids: [cl], memorySize: 1 })).hostUuid);
    expect(picks.size).toBeGreaterThan(1);
    expect([...picks].every((u) => hosts.some((h) => h.uuid === u))).toBe(true);
  });

  it('prefers the least used CPU or memory, the fewest VMs, or the last host, as each strategy says', async () => {
    const cl = await cluster('alloc-strategies');
    const [a, b, x] = [await addHost(cl, 's-a'), await addHost(cl, 's-b'), await addHost(cl, 's-c')];
    await reserve(a.uuid, 30, 1 * GiB); // a: CPU mostly used, memory free
    await reserve(b.uuid, 1, 7 * GiB); // b: CPU free, memory mostly used
    await reserve(x.uuid, 20, 4 * GiB); // c: half and half
    expect((await allocate({ clusterUuids: [cl], allocatorStrategy: 'MinimumCPUUsageHostAllocatorStrategy', memorySize: 1 })).hostUuid).toBe(b.uuid);
    expect((await allocate({ clusterUuids: [cl], allocatorStrategy: 'MinimumMemoryUsageHostAllocatorStrategy', memorySize: 1 })).hostUuid).toBe(a.uuid);
    expect((await allocate({ clusterUuids: [cl], allocatorStrategy: 'LeastVmPreferredHostAllocatorStrategy', memorySize: 1, vmCountByHost: { [a.uuid]: 5, [b.uuid]: 3 } })).hostUuid).toBe(x.uuid);
    for (let i = 0; i < 5; i++) expect((await allocate({ clusterUuids: [cl], allocatorStrategy: 'LastHostPreferredAllocatorStrategy', memorySize: 1, lastHostUuid: x.uuid })).hostUuid).toBe(x.uuid);
    // A last host that no longer qualifies is passed over.
    await c.call('PUT', `/hosts/${x.uuid}/actions`, { changeHostState: { stateEvent: 'disable' } });
    expect([a.uuid, b.uuid]).toContain((await allocate({ clusterUuids: [cl], allocatorStrategy: 'LastHostPreferredAllocatorStrategy', memorySize: 1, lastHostUuid: x.uuid })).hostUuid);

    // The instance offering's strategy applies when the request names none.
    const offering = (await c.call('POST', '/instance-offerings', { params: { name: 'io-min-mem', cpuNum: 1, memorySize: GiB, allocatorStrategy: 'MinimumMemoryUsageHostAllocatorStrategy' } })).inventory;
    const viaOffering = await allocate({ clusterUuids: [cl], instanceOfferingUuid: offering.uuid, memorySize: 1 });
    expect(viaOffering).toMatchObject({ hostUuid: a.uuid, allocatorStrategy: 'MinimumMemoryUsageHostAllocatorStrategy' });
    const unknown = await tryAllocate({ clusterUuids: [cl], allocatorStrategy: 'NoSuchStrategy' });
    expect(!unknown.success && unknown.error.code).toBe('SYS.1013');
  });

  it('filters by zone, cluster and host, state, status, cluster state, hypervisor type, avoided hosts and host tags', async () => {
    const cl = await cluster('alloc-filters');
    const other = await cluster('alloc-filters-other');
    const [f1, f2, f3] = [await addHost(cl, 'f1'), await addHost(cl, 'f2'), await addHost(cl, 'f3', 4, 8, { userTags: ['ssd'] })];
    const o1 = await addHost(other, 'o1');
    expect((await allocate({ hostUuid: f2.uuid })).hostUuid).toBe(f2.uuid);
    expect((await allocate({ clusterUuids: [other] })).hostUuid).toBe(o1.uuid);
    expect((await allocate({ zoneUuid, clusterUuids: [cl], avoidHostUuids: [f1.uuid, f2.uuid] })).hostUuid).toBe(f3.uuid);
    expect((await allocate({ clusterUuids: [cl, other], requiredHostTags: ['ssd'] })).hostUuid).toBe(f3.uuid);
    const tagged = (await c.call('POST', '/instance-offerings', { params: { name: 'io-ssd', cpuNum: 1, memorySize: GiB }, systemTags: ['hostTag::ssd'] })).inventory;
    expect((await allocate({ clusterUuids: [cl, other], instanceOfferingUuid: tagged.uuid })).hostUuid).toBe(f3.uuid);

    await c.call('PUT', `/hosts/${f1.uuid}/actions`, { changeHostState: { stateEvent: 'disable' } });
    await db().updateTable('host').set({ status: 'Disconnected' }).where('uuid', '=', f2.uuid).execute();
    await c.call('PUT', `/clusters/${other}/actions`, { changeClusterState: { stateEvent: 'disable' } });
    expect((await allocate({ clusterUuids: [cl, other] })).hostUuid).toBe(f3.uuid);
    const none = await tryAllocate({ clusterUuids: [cl, other], avoidHostUuids: [f3.uuid], hypervisorType: 'Simulator' });
    expect(none.success).toBe(false);
    if (!none.success) {
      expect(none.error.code).toBe('HOST_ALLOCATION.1001');
      for (const part of [`f1[uuid:${f1.uuid}]: its state is Disabled`, `f2[uuid:${f2.uuid}]: its status is Disconnected`, `f3[uuid:${f3.uuid}]: it is to be avoided`, `o1[uuid:${o1.uuid}]: its cluster ${other} is Disabled`]) expect(none.error.details).toContain(part);
    }
    const kvm = await tryAllocate({ clusterUuids: [cl], hypervisorType: 'KVM' });
    expect(!kvm.success && kvm.error.details).toContain(`f3[uuid:${f3.uuid}]: its hypervisor type is Simulator, not KVM`);
    const noTag = await tryAllocate({ clusterUuids: [cl], requiredHostTags: ['gpu'] });
    expect(!noTag.success && noTag.error.details).toContain('lacks the host tags [gpu]');
    await db().updateTable('host').set({ status: 'Connected' }).where('uuid', '=', f2.uuid).execute();
  });

  it('counts memory through the over-provisioning ratio and fails with every host\'s reason when nothing fits', async () => {
    const cl = await cluster('alloc-capacity');
    const h = await addHost(cl, 'cap', 1, 8);
    const big = await tryAllocate({ clusterUuids: [cl], memorySize: 12 * GiB });
    expect(!big.success && big.error.details).toContain(`cap[uuid:${h.uuid}]: it has 10 CPU and ${8 * GiB} bytes of memory available; 1 CPU and ${12 * GiB} bytes are needed`);
    await c.call('PUT', '/global-configurations/mevoco/overProvisioning.memory/actions', { updateGlobalConfig: { value: '2' } });
    try {
      expect((await allocate({ clusterUuids: [cl], memorySize: 12 * GiB })).hostUuid).toBe(h.uuid);
      expect(Number((await hostRow(h.uuid)).availableMemoryCapacity)).toBe(2 * GiB);
    } finally {
      await c.call('PUT', '/global-configurations/mevoco/overProvisioning.memory/actions', { updateGlobalConfig: { value: '1' } });
    }
    const empty = await tryAllocate({ clusterUuids: [await cluster('alloc-empty')] });
    expect(!empty.success && empty.error.details).toContain('there is no host in clusters');
    expect((await tryAllocate({ hostUuid: newUuid() })).success).toBe(false);
    const bad = await tryAllocate({ cpuNum: -1 });
    expect(!bad.success && bad.error.code).toBe('SYS.1007');
  });

  it('decides on fresh rows although it remembers the hosts: a host disabled since is never picked, capacity given back elsewhere is found', async () => {
    const cl = await cluster('alloc-view');
    const [v1, v2] = [await addHost(cl, 'v1', 1, 8), await addHost(cl, 'v2', 1, 8)];
    await allocate({ clusterUuids: [cl], avoidHostUuids: [v2.uuid] }); // the allocator now holds this scope's hosts in memory
    await c.call('PUT', `/hosts/${v1.uuid}/actions`, { changeHostState: { stateEvent: 'disable' } });
    for (let i = 0; i < 8; i++) expect((await allocate({ clusterUuids: [cl] })).hostUuid).toBe(v2.uuid);
    // v2 is full (8 × 1 GiB); capacity given back by another path than the allocator is still found.
    const full = await tryAllocate({ clusterUuids: [cl] });
    expect(!full.success && full.error.code).toBe('HOST_ALLOCATION.1001');
    await bus().call('host', HostMessages.releaseCapacity, { hostUuid: v2.uuid, cpuNum: 1, memorySize: GiB }, { resourceUuid: v2.uuid });
    expect((await allocate({ clusterUuids: [cl] })).hostUuid).toBe(v2.uuid);
    expect(Number((await hostRow(v2.uuid)).availableMemoryCapacity)).toBe(0);
  });

  it('picks a host enabled again, or one in a cluster enabled again, at once, although it keeps the hosts in memory for seconds', async () => {
    const [cl, cl2] = [await cluster('alloc-reenable'), await cluster('alloc-reenable-2')];
    const [a, b, x] = [await addHost(cl, 'r-a', 64, 64), await addHost(cl, 'r-b', 64, 64), await addHost(cl2, 'r-x', 64, 64)];
    const picks = async (clusterUuids: string[]) => {
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add((await allocate({ clusterUuids, memorySize: 1 })).hostUuid);
      return seen;
    };
    await c.call('PUT', `/hosts/${a.uuid}/actions`, { changeHostState: { stateEvent: 'disable' } });
    expect(await picks([cl])).toEqual(new Set([b.uuid])); // the allocator now holds a as Disabled
    await c.call('PUT', `/hosts/${a.uuid}/actions`, { changeHostState: { stateEvent: 'enable' } });
    expect((await picks([cl])).has(a.uuid)).toBe(true);

    await c.call('PUT', `/clusters/${cl2}/actions`, { changeClusterState: { stateEvent: 'disable' } });
    expect((await picks([cl, cl2])).has(x.uuid)).toBe(false);
    await c.call('PUT', `/clusters/${cl2}/actions`, { changeClusterState: { stateEvent: 'enable' } });
    expect((await picks([cl, cl2])).has(x.uuid)).toBe(true);
  });

  it('never overcommits a host under 200 concurrent allocations over 20 hosts: exactly what fits succeeds, the rest fail', async () => {
    const cl = await cluster('alloc-concurrency');
    // Each host: 10 CPU (1 core × ratio 10), 8 GiB: memory bounds it to 8 allocations of 1 GiB, so 160 fit.
    const hosts = [];
    for (let i = 0; i < 20; i++) hosts.push(await addHost(cl, `cc-${i}`, 1, 8));
    const results = await Promise.all(Array.from({ length: 200 }, () => tryAllocate({ clusterUuids: [cl] })));
    const ok = results.filter((r) => r.success);
    expect(ok).toHaveLength(160);
    for (const r of results.filter((x) => !x.success)) expect(!r.success && r.error.code).toBe('HOST_ALLOCATION.1001');
    const perHost = new Map<string, number>();
    for (const r of ok) if (r.success) perHost.set(r.value.hostUuid, (perHost.get(r.value.hostUuid) ?? 0) + 1);
    for (const h of hosts) {
      const row = await hostRow(h.uuid);
      expect(Number(row.availableMemoryCapacity)).toBe(0);
      expect(Number(row.availableCpuCapacity)).toBe(2);
      expect(perHost.get(h.uuid)).toBe(8);
    }
  });
});
