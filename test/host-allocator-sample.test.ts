import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostAllocatorMessages, type AllocateHostReply, type AllocateHostRequest } from '../src/contracts/host-allocator.ts';
import { HostMessages } from '../src/contracts/host.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { sampleQualifying } from '../src/services/host-allocator/allocator.ts';
import { hostFilters } from '../src/services/host-allocator/filters.ts';
import { defaultStrategy, lastHostPreferred, minimumCpuUsage } from '../src/services/host-allocator/strategies.ts';
import { createCluster, createZone } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const HOSTS = 80; // above the size from which the random strategies sample the allocator's view

describe('sampling qualifying hosts from a large view', () => {
  const host = (i: number, free: boolean) => ({ uuid: `h${i}`, name: `h${i}`, zoneUuid: 'z', clusterUuid: 'c', hypervisorType: 'Simulator', state: 'Enabled', status: 'Connected', totalCpuCapacity: 4, availableCpuCapacity: free ? 4 : 0, totalMemoryCapacity: GiB, availableMemoryCapacity: GiB });
  const viewOf = (hosts: ReturnType<typeof host>[]) => ({ loadedAt: 0, hosts, byUuid: new Map(hosts.map((h) => [h.uuid, h])), clusterStates: new Map([['c', 'Enabled']]) });
  const filters = hostFilters({ request: { cpuNum: 1, memorySize: GiB }, clusterStates: new Map([['c', 'Enabled']]), hostTags: new Map(), requiredTags: [], memoryCharged: GiB });

  it('returns at most five qualifying hosts, never one that does not qualify, drawn across the whole view', () => {
    const view = viewOf(Array.from({ length: 1000 }, (_, i) => host(i, i % 2 === 0)));
    const seen = new Set<string>();
    for (let k = 0; k < 200; k++) {
      const s = sampleQualifying(view, filters, defaultStrategy)!;
      expect(s.length).toBeGreaterThan(0);
      expect(s.length).toBeLessThanOrEqual(5);
      for (const h of s) {
        expect(h.availableCpuCapacity).toBe(4);
        seen.add(h.uuid);
      }
    }
    expect(seen.size).toBeGreaterThan(200);
  });

  it('keeps a qualifying last host for LastHostPreferred, and leaves small views and ordered strategies to the full filter', () => {
    const view = viewOf(Array.from({ length: 1000 }, (_, i) => host(i, true)));
    expect(sampleQualifying(view, filters, lastHostPreferred, 'h777')![0].uuid).toBe('h777');
    expect(sampleQualifying(view, filters, minimumCpuUsage)).toBeUndefined();
    expect(sampleQualifying(viewOf(Array.from({ length: 20 }, (_, i) => host(i, true))), filters, defaultStrategy)).toBeUndefined();
    expect(sampleQualifying(viewOf(Array.from({ length: 1000 }, (_, i) => host(i, false))), filters, defaultStrategy)).toBeUndefined();
  });
});

/** Allocation in a scope large enough that the random strategies sample qualifying hosts instead of filtering all. */
describe.each(testDatabaseKinds())('host allocation sampling a large scope on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  let ipSeq = 0;
  const bus = () => t.node.ctx.bus;
  const nextIp = () => `10.9.${Math.floor(++ipSeq / 250)}.${(ipSeq % 250) + 1}`;
  const addHosts = async (clusterUuid: string, prefix: string) => {
    const out: Array<{ uuid: string }> = [];
    for (let i = 0; i < HOSTS; i++) out.push((await c.call('POST', '/hosts/simulators', { params: { name: `${prefix}${i}`, managementIp: nextIp(), clusterUuid, cpuCapacity: 4, memoryCapacity: GiB } })).inventory);
    return out;
  };
  const allocate = (req: Partial<AllocateHostRequest>) => bus().call<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, { cpuNum: 1, memorySize: GiB, ...req });
  const tryAllocate = (req: Partial<AllocateHostRequest>) => bus().send<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, { cpuNum: 1, memorySize: GiB, ...req });

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    zoneUuid = (await createZone(c, 'sample-zone')).uuid;
  });
  afterAll(async () => t?.stop());

  it('finds the few hosts with room among many full ones, each once, then fails', async () => {
    const cl = (await createCluster(c, zoneUuid, 'sample-few', { hypervisorType: 'Simulator' })).uuid as string;
    const hosts = await addHosts(cl, 'f');
    const free = new Set(hosts.slice(0, 5).map((h) => h.uuid));
    for (const h of hosts.slice(5)) await bus().call('host', HostMessages.reserveCapacity, { hostUuid: h.uuid, cpuNum: 0, memorySize: GiB }, { resourceUuid: h.uuid });
    const picked = [];
    for (let i = 0; i < 5; i++) picked.push((await allocate({ clusterUuids: [cl] })).hostUuid);
    expect(new Set(picked)).toEqual(free);
    const none = await tryAllocate({ clusterUuids: [cl] });
    expect(!none.success && none.error.code).toBe('HOST_ALLOCATION.1001');
  });

  it('spreads at random over the scope with the default strategy and keeps the last host first with LastHostPreferred', async () => {
    const cl = (await createCluster(c, zoneUuid, 'sample-spread', { hypervisorType: 'Simulator' })).uuid as string;
    const hosts = await addHosts(cl, 's');
    const uuids = new Set(hosts.map((h) => h.uuid));
    const picks = new Set<string>();
    for (let i = 0; i < 30; i++) picks.add((await allocate({ clusterUuids: [cl], memorySize: 1 })).hostUuid);
    expect(picks.size).toBeGreaterThan(10);
    expect([...picks].every((u) => uuids.has(u))).toBe(true);
    const last = hosts[42].uuid;
    for (let i = 0; i < 5; i++) {
      expect((await allocate({ clusterUuids: [cl], memorySize: 1, allocatorStrategy: 'LastHostPreferredAllocatorStrategy', lastHostUuid: last })).hostUuid).toBe(last);
    }
  });
});
