import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostErrors, HostEvents, HostLifecyclePoint, HostMessages } from '../src/contracts/host.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { StratoError, SysErrors } from '../src/core/errors/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { hostPingTrackerOf } from '../src/services/host/index.ts';
import { countRows, createCluster, createZone, qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const HOST_TABLES = ['host', 'simulator_host', 'system_tag', 'user_tag'];

/** Test-only plugin: hosts named `busy…` refuse to enter maintenance (as hosts whose VMs cannot move will). */
const maintenanceVeto: ServiceModule = {
  id: 'test.host-maintenance-veto',
  setup(ctx) {
    ctx.extensions.registerObserver(HostLifecyclePoint, {
      enteringMaintenance(host) {
        if (host.name.startsWith('busy')) throw new StratoError(SysErrors.OPERATION_ERROR, `host ${host.name} has workloads that cannot move`);
      },
    });
  },
};

describe.each(testDatabaseKinds())('hosts on simulated infrastructure on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  let clusterUuid: string;
  let ipSeq = 0;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const nextIp = () => `10.1.${Math.floor(++ipSeq / 250)}.${ipSeq % 250 + 1}`;
  const addHost = async (name: string, extra: Record<string, unknown> = {}, cluster = clusterUuid) => (await c.call('POST', '/hosts/simulators', { params: { name, managementIp: nextIp(), clusterUuid: cluster, cpuCapacity: 4, memoryCapacity: 8 * GiB, ...extra } })).inventory;
  const hostRow = (uuid: string) => db().selectFrom('host').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  const action = (uuid: string, body: unknown) => c.send('PUT', `/hosts/${uuid}/actions`, body);

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [maintenanceVeto] });
    c = await t.login();
    zoneUuid = (await createZone(c, 'host-zone')).uuid;
    clusterUuid = (await createCluster(c, zoneUuid, 'host-cluster', { hypervisorType: 'Simulator' })).uuid;
  });
  beforeEach(() => fleet().reset());
  afterAll(async () => t?.stop());

  it('adds a simulator host that connects through its agent and reports its capacity', async () => {
    const host = await addHost('h-basic', {}, clusterUuid);
    expect(host).toMatchObject({ name: 'h-basic', zoneUuid, clusterUuid, hypervisorType: 'Simulator', state: 'Enabled', status: 'Connected', cpuNum: 4, cpuSockets: 1, totalCpuCapacity: 40, availableCpuCapacity: 40, totalMemoryCapacity: 8 * GiB, availableMemoryCapacity: 8 * GiB });
    expect(host.agentToken).toBeUndefined();
    expect(typeof host.createDate).toBe('string');
    const agent = fleet().agent(host.uuid)!;
    expect(['/host/echo', '/host/connect', '/host/capacity'].map((p) => agent.count(p))).toEqual([1, 1, 1]);
    expect(agent.state.hostUuid).toBe(host.uuid);
  });

  it('answers AddKVMHost on an address where no sshd listens with KVM.1002 and writes nothing', async () => {
    // The KVM plugin's deployment for real is in test/system/kvm-host.test.ts; here only the rollback of a failed add.
    const kvmCluster = await createCluster(c, zoneUuid, 'kvm-cluster', { hypervisorType: 'KVM' });
    const before = await countRows(db(), [...HOST_TABLES, 'kvm_host']);
    const r = await c.send('POST', '/hosts/kvm', { params: { name: 'k1', managementIp: '127.0.0.1', sshPort: 1, clusterUuid: kvmCluster.uuid, username: 'root', password: 'password' } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('KVM.1002');
    expect(r.body.error.details).toContain('127.0.0.1');
    expect(await countRows(db(), [...HOST_TABLES, 'kvm_host'])).toEqual(before);
  });

  it('refuses a host whose hypervisor differs from its cluster, or a management IP already used', async () => {
    const kvmCluster = await createCluster(c, zoneUuid, 'kvm-cluster-2', { hypervisorType: 'KVM' });
    const before = await countRows(db(), HOST_TABLES);
    const wrong = await c.send('POST', '/hosts/simulators', { params: { name: 'x', managementIp: nextIp(), clusterUuid: kvmCluster.uuid, cpuCapacity: 1, memoryCapacity: GiB } });
    expect(wrong.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    const h = await addHost('h-ip');
    const dup = await c.send('POST', '/hosts/simulators', { params: { name: 'y', managementIp: h.managementIp, clusterUuid, cpuCapacity: 1, memoryCapacity: GiB } });
    expect(dup.body.error.details).toContain(h.managementIp);
    expect((await countRows(db(), HOST_TABLES)).host).toBe(before.host + 1);
  });

  it.each([
    ['/host/echo', { httpStatus: 500 }],
    ['/host/connect', { error: 'libvirt is not running' }],
    ['/host/capacity', { error: 'cannot read /proc/meminfo' }],
    ['/host/capacity', { raise: 'Traceback (most recent call last)' }],
  ])('rolls back AddSimulatorHost when %s fails (%o): no host row, no tags, no simulated agent', async (path, behaviour) => {
    const before = await countRows(db(), HOST_TABLES);
    fleet().configure(path, { ...behaviour, times: 1 });
    const r = await c.send('POST', '/hosts/simulators', { params: { name: 'h-fail', managementIp: nextIp(), clusterUuid, cpuCapacity: 2, memoryCapacity: GiB }, userTags: ['doomed'] });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toMatch(/^AGENT\.100/);
    expect(await countRows(db(), HOST_TABLES)).toEqual(before);
    expect((await c.call('GET', `/hosts${qs({ q: 'name=h-fail' })}`)).inventories).toEqual([]);
    const uuids = new Set((await db().selectFrom('host').select('uuid').execute()).map((x) => x.uuid));
    expect(fleet().size).toBe(uuids.size);
  });

  it('queries hosts by nested fields of their cluster and zone', async () => {
    const otherZone = await createZone(c, 'host-zone-2');
    const otherCluster = await createCluster(c, otherZone.uuid, 'host-cluster-2', { hypervisorType: 'Simulator' });
    const h = await addHost('h-nested', {}, otherCluster.uuid);
    const byZone = await c.call('GET', `/hosts${qs({ q: `cluster.zoneUuid=${otherZone.uuid}` })}`);
    expect(byZone.inventories.map((x: any) => x.uuid)).toEqual([h.uuid]);
    const byZoneName = await c.call('GET', `/hosts${qs({ q: ['zone.name=host-zone-2', 'status=Connected'] })}`);
    expect(byZoneName.inventories.map((x: any) => x.uuid)).toEqual([h.uuid]);
    const byCapacity = await c.call('GET', `/hosts${qs({ q: [`totalCpuCapacity>=40`, `uuid=${h.uuid}`], replyWithCount: true })}`);
    expect(byCapacity.total).toBe(1);
    expect((await c.call('GET', `/hosts/${h.uuid}`)).inventories[0].name).toBe('h-nested');
  });

  it('updates name, description and management IP; refuses an IP another host has', async () => {
    const a = await addHost('h-upd-a');
    const b = await addHost('h-upd-b');
    const r = await action(a.uuid, { updateHost: { name: 'h-upd-renamed', description: 'rack 4', managementIp: '10.9.9.9' } });
    expect(r.body.inventory).toMatchObject({ name: 'h-upd-renamed', description: 'rack 4', managementIp: '10.9.9.9' });
    const dup = await action(b.uuid, { updateHost: { managementIp: '10.9.9.9' } });
    expect(dup.status).toBe(503);
    expect((await hostRow(b.uuid))!.managementIp).toBe(b.managementIp);
  });

  it('changes state: disable, enable, maintain (no VMs: straight to Maintenance), back to Enabled', async () => {
    const h = await addHost('h-state');
    const state = async (stateEvent: string) => (await action(h.uuid, { changeHostState: { stateEvent } })).body.inventory?.state;
    expect(await state('disable')).toBe('Disabled');
    expect(await state('enable')).toBe('Enabled');
    expect(await state('maintain')).toBe('Maintenance');
    expect(await state('maintain')).toBe('Maintenance');
    expect(await state('disable')).toBe('Disabled');
    expect(await state('enable')).toBe('Enabled');
  });

  it('puts a host back in its previous state when entering maintenance is refused', async () => {
    const h = await addHost('busy-host');
    await action(h.uuid, { changeHostState: { stateEvent: 'disable' } });
    const r = await action(h.uuid, { changeHostState: { stateEvent: 'maintain' } });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toContain('cannot move');
    expect((await hostRow(h.uuid))!.state).toBe('Disabled');
  });

  it('reconnects: a failing echo leaves the host Disconnected, the next reconnect makes it Connected', async () => {
    const h = await addHost('h-reconnect');
    fleet().agent(h.uuid)!.configure('/host/echo', { error: 'agent restarting', times: 1 });
    const bad = await action(h.uuid, { reconnectHost: {} });
    expect(bad.status).toBe(503);
    expect(bad.body.error.details).toContain('agent restarting');
    expect((await hostRow(h.uuid))!.status).toBe('Disconnected');
    const good = await action(h.uuid, { reconnectHost: {} });
    expect(good.body.inventory.status).toBe('Connected');
    // Capacity is refreshed, not doubled.
    expect(good.body.inventory.totalCpuCapacity).toBe(40);
    expect(good.body.inventory.availableCpuCapacity).toBe(40);
  });

  it('marks a host Disconnected when a ping fails and reconnects it automatically', async () => {
    const h = await addHost('h-ping');
    const seen: string[] = [];
    const off = t.node.ctx.bus.subscribe<{ hostUuid: string; status: string }>(HostEvents.statusChanged, (e) => {
      if (e.hostUuid === h.uuid) seen.push(e.status);
    });
    try {
      fleet().agent(h.uuid)!.configure('/host/ping', { error: 'host unreachable', times: 1 });
      await hostPingTrackerOf(t.node.ctx)!.pingAll();
      await waitFor('both status changes', () => seen.length >= 2);
      expect(seen).toEqual(['Disconnected', 'Connected']);
      expect((await hostRow(h.uuid))!.status).toBe('Connected');
    } finally {
      off();
    }
  });

  it('without autoReconnectOnError stays Disconnected until a ping answers and the option is back on; host.ping.interval drives the tracker', async () => {
    const h = await addHost('h-ping-manual');
    const config = (name: string, value: string) => c.call('PUT', `/global-configurations/host/${name}/actions`, { updateGlobalConfig: { value } });
    await config('connection.autoReconnectOnError', 'false');
    try {
      fleet().agent(h.uuid)!.configure('/host/ping', { httpStatus: 503 });
      await hostPingTrackerOf(t.node.ctx)!.pingAll();
      expect((await hostRow(h.uuid))!.status).toBe('Disconnected');
      await hostPingTrackerOf(t.node.ctx)!.pingAll();
      expect((await hostRow(h.uuid))!.status).toBe('Disconnected');
      fleet().agent(h.uuid)!.reset();
      await config('connection.autoReconnectOnError', 'true');
      await config('ping.interval', '1');
      // The tracker's own timer (1 s now) notices the host answers again and reconnects it.
      await waitFor('the tracker to reconnect the host', async () => (await hostRow(h.uuid))!.status === 'Connected', 15_000);
    } finally {
      await config('ping.interval', '60');
      await config('connection.autoReconnectOnError', 'true');
    }
  });

  it('reserves capacity with conditional updates: 50 concurrent reservations never overcommit', async () => {
    const h = await addHost('h-capacity', { cpuCapacity: 2, memoryCapacity: 64 * GiB });
    expect(h.totalCpuCapacity).toBe(20);
    const bus = t.node.ctx.bus;
    const results = await Promise.all(Array.from({ length: 50 }, () => bus.send('host', HostMessages.reserveCapacity, { hostUuid: h.uuid, cpuNum: 1, memorySize: GiB }, { resourceUuid: h.uuid })));
    const ok = results.filter((r) => r.success).length;
    expect(ok).toBe(20);
    expect(results.filter((r) => !r.success).every((r) => !r.success && r.error.code === HostErrors.INSUFFICIENT_CAPACITY.code)).toBe(true);
    let row = (await hostRow(h.uuid))!;
    expect(Number(row.availableCpuCapacity)).toBe(0);
    expect(Number(row.availableMemoryCapacity)).toBe(44 * GiB);
    await Promise.all(Array.from({ length: 25 }, () => bus.call('host', HostMessages.releaseCapacity, { hostUuid: h.uuid, cpuNum: 1, memorySize: GiB }, { resourceUuid: h.uuid })));
    row = (await hostRow(h.uuid))!;
    expect(Number(row.availableCpuCapacity)).toBe(20); // never above the total
    expect(Number(row.availableMemoryCapacity)).toBe(64 * GiB);
  });

  it('charges memory through mevoco.overProvisioning.memory', async () => {
    const h = await addHost('h-ratio', { cpuCapacity: 1, memoryCapacity: 4 * GiB });
    await c.call('PUT', '/global-configurations/mevoco/overProvisioning.memory/actions', { updateGlobalConfig: { value: '2' } });
    try {
      await t.node.ctx.bus.call('host', HostMessages.reserveCapacity, { hostUuid: h.uuid, cpuNum: 1, memorySize: 6 * GiB }, { resourceUuid: h.uuid });
      expect(Number((await hostRow(h.uuid))!.availableMemoryCapacity)).toBe(GiB);
    } finally {
      await c.call('PUT', '/global-configurations/mevoco/overProvisioning.memory/actions', { updateGlobalConfig: { value: '1' } });
    }
  });

  it('deletes a host, and every host of a deleted cluster or zone, with their simulated agents', async () => {
    const h = await addHost('h-delete');
    await c.call('DELETE', `/hosts/${h.uuid}`);
    expect(await hostRow(h.uuid)).toBeUndefined();
    expect(fleet().agent(h.uuid)).toBeUndefined();

    const zone = await createZone(c, 'cascade-zone');
    const clusterA = await createCluster(c, zone.uuid, 'cascade-a', { hypervisorType: 'Simulator' });
    const clusterB = await createCluster(c, zone.uuid, 'cascade-b', { hypervisorType: 'Simulator' });
    const a1 = await addHost('cascade-a1', {}, clusterA.uuid);
    const a2 = await addHost('cascade-a2', {}, clusterA.uuid);
    const b1 = await addHost('cascade-b1', {}, clusterB.uuid);
    await c.call('DELETE', `/clusters/${clusterA.uuid}`);
    expect(await hostRow(a1.uuid)).toBeUndefined();
    expect(await hostRow(a2.uuid)).toBeUndefined();
    expect(await hostRow(b1.uuid)).toBeDefined();
    await c.call('DELETE', `/zones/${zone.uuid}`);
    expect(await hostRow(b1.uuid)).toBeUndefined();
    expect(await db().selectFrom('simulator_host').select('uuid').where('uuid', 'in', [a1.uuid, a2.uuid, b1.uuid]).execute()).toEqual([]);
    expect([a1, a2, b1].map((x) => fleet().agent(x.uuid))).toEqual([undefined, undefined, undefined]);
  });

  it('speaks to in-process simulated agents the same way (simulator.agentTransport=inProcess)', async () => {
    await c.call('PUT', '/global-configurations/simulator/agentTransport/actions', { updateGlobalConfig: { value: 'inProcess' } });
    try {
      const h = await addHost('h-inproc');
      expect(h.status).toBe('Connected');
      fleet().agent(h.uuid)!.configure('/host/echo', { error: 'in-process failure', times: 1 });
      expect((await action(h.uuid, { reconnectHost: {} })).body.error.details).toContain('in-process failure');
      expect((await action(h.uuid, { reconnectHost: {} })).body.inventory.status).toBe('Connected');
    } finally {
      await c.call('PUT', '/global-configurations/simulator/agentTransport/actions', { updateGlobalConfig: { value: 'http' } });
    }
  });
});
