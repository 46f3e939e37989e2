import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnvironment, type EnvSpec, type Environment } from '../src/cli/environment.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;

/** A whole cloud, declared once (ZStack's EnvSpec): zone → clusters → hosts → storage → networks → security group → VMs → VIP/EIP → volumes → snapshots. */
const spec: EnvSpec = {
  instanceOfferings: [{ name: 'env-small', cpuNum: 1, memorySize: GiB }],
  diskOfferings: [{ name: 'env-disk', diskSize: 2 * GiB }],
  backupStorage: [{ name: 'env-bs', totalCapacity: 1000 * GiB, images: [{ name: 'env-linux', url: 'http://images.example/env-linux.qcow2?size=1073741824' }] }],
  zones: [{
    name: 'env-zone',
    backupStorage: ['env-bs'],
    primaryStorage: [{ name: 'env-ps', totalCapacity: 1000 * GiB }],
    l2Networks: [
      { name: 'env-l2', l3Networks: [{ name: 'env-private', cidr: '10.60.0.0/24', dns: ['10.60.0.1'], services: ['DHCP', 'DNS', 'SecurityGroup', 'Eip'] }] },
      { name: 'env-l2-vlan', physicalInterface: 'eth1', vlan: 100, l3Networks: [{ name: 'env-public', ipRanges: [{ startIp: '192.168.60.10', endIp: '192.168.60.20', netmask: '255.255.255.0', gateway: '192.168.60.1' }], category: 'Public', services: ['Eip'] }] },
    ],
    clusters: [
      { name: 'env-cluster-a', primaryStorage: ['env-ps'], l2Networks: ['env-l2', 'env-l2-vlan'], hosts: [1, 2].map((i) => ({ name: `env-host-${i}`, managementIp: `10.61.0.${i}`, cpuCapacity: 8, memoryCapacity: 16 * GiB })) },
      { name: 'env-cluster-b', primaryStorage: ['env-ps'], l2Networks: ['env-l2', 'env-l2-vlan'], hosts: [{ name: 'env-host-3', managementIp: '10.61.0.3', cpuCapacity: 8, memoryCapacity: 16 * GiB }] },
    ],
  }],
  securityGroups: [{ name: 'env-web', rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 22, endPort: 22, allowedCidr: '0.0.0.0/0' }], l3Networks: ['env-private'], vms: ['env-vm-1'] }],
  vms: [
    { name: 'env-vm-1', instanceOffering: 'env-small', image: 'env-linux', l3Networks: ['env-private'], dataDiskOfferings: ['env-disk'], host: 'env-host-1', userTags: ['web'] },
    { name: 'env-vm-2', cpuNum: 1, memorySize: GiB, image: 'env-linux', l3Networks: ['env-private'], strategy: 'CreateStopped' },
  ],
  vips: [{ name: 'env-vip', l3Network: 'env-public' }],
  eips: [{ name: 'env-eip', vip: 'env-vip', vm: 'env-vm-1', l3Network: 'env-private' }],
  volumes: [{ name: 'env-data', diskOffering: 'env-disk', vm: 'env-vm-1' }, { name: 'env-spare', diskSize: GiB, primaryStorage: 'env-ps' }],
  snapshots: [{ name: 'env-root-snap', vm: 'env-vm-1' }, { name: 'env-data-snap', volume: 'env-data' }],
};

describe.each(testDatabaseKinds())('a complete cloud declared with the environment DSL and driven through REST on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let env: Environment;
  const u = (name: string) => env.uuid(name);
  const query = async (pathAndQuery: string) => (await c.call('GET', pathAndQuery)).inventories as Array<Record<string, any>>;
  const action = (path: string, body: unknown) => c.call('PUT', path, body);
  const db = () => t.node.ctx.db;
  const hostFree = async () => Object.fromEntries((await db().selectFrom('host').select(['name', 'availableCpuCapacity', 'availableMemoryCapacity']).execute()).map((h) => [h.name, [Number(h.availableCpuCapacity), Number(h.availableMemoryCapacity)]]));

  beforeAll(async () => {
    t = await startTestNode(kind);
    env = await buildEnvironment(t.url, spec);
    c = await t.login();
  }, 120_000);
  afterAll(async () => t?.stop());

  it('builds every declared resource, wired as declared', async () => {
    expect((await query(`/hosts${qs({ q: 'cluster.name=env-cluster-a' })}`)).map((h) => h.name).sort()).toEqual(['env-host-1', 'env-host-2']);
    const [vm1] = await query(`/vm-instances${qs({ q: 'name=env-vm-1' })}`);
    expect(vm1).toMatchObject({ state: 'Running', hostUuid: u('env-host-1'), instanceOfferingUuid: u('env-small') });
    expect((await query(`/vm-instances${qs({ q: 'name=env-vm-2' })}`))[0]).toMatchObject({ state: 'Stopped', hostUuid: null });
    // Root, the offering's data volume and env-data: attached, Ready, with one snapshot each of root and env-data.
    const volumes = await query(`/volumes${qs({ q: `vmInstanceUuid=${u('env-vm-1')}` })}`);
    expect(volumes.map((v) => v.type).sort()).toEqual(['Data', 'Data', 'Root']);
    expect(volumes.every((v) => v.status === 'Ready')).toBe(true);
    expect((await query(`/volumes${qs({ q: `uuid=${u('env-spare')}` })}`))[0]).toMatchObject({ status: 'Ready', primaryStorageUuid: u('env-ps'), vmInstanceUuid: null });
    expect((await query(`/volume-snapshots${qs({ q: `volume.vmInstanceUuid=${u('env-vm-1')}` })}`)).map((s) => s.name).sort()).toEqual(['env-data-snap', 'env-root-snap']);
    // The NIC: in the private range, a member of env-web, behind env-eip.
    const nic = env.nic('env-vm-1', 'env-private');
    expect(() => env.nic('env-vm-2', 'env-public')).toThrow(/env-vm-2 of the environment has no NIC on env-public/);
    const [nicRow] = await query(`/vm-instances/nics${qs({ q: `uuid=${nic}` })}`);
    expect(nicRow.ip).toMatch(/^10\.60\.0\./);
    expect((await query(`/security-groups/rules${qs({ q: `securityGroupUuid=${u('env-web')}` })}`)).map((r) => [r.type, r.protocol, r.startPort])).toContainEqual(['Ingress', 'TCP', 22]);
    expect(await db().selectFrom('vm_nic_security_group_ref').select('vmNicUuid').where('securityGroupUuid', '=', u('env-web')).execute()).toEqual([{ vmNicUuid: nic }]);
    expect((await query(`/eips${qs({ q: `uuid=${u('env-eip')}` })}`))[0]).toMatchObject({ vipUuid: u('env-vip'), vmNicUuid: nic });
    expect((await query(`/vips${qs({ q: `uuid=${u('env-vip')}` })}`))[0].ip).toMatch(/^192\.168\.60\./);
    expect((await c.call('GET', `/user-tags${qs({ q: `resourceUuid=${u('env-vm-1')}` })}`)).inventories.map((x: any) => x.tag)).toEqual(['web']);
  });

  it('answers the L2 and L3 queries and network-service refs of the world it built, and detaches a service', async () => {
    expect((await query(`/l2-networks${qs({ q: `zoneUuid=${u('env-zone')}` })}`)).map((l) => l.name).sort()).toEqual(['env-l2', 'env-l2-vlan']);
    expect((await query(`/l2-networks/vlan${qs({ q: 'vlan=100' })}`)).map((l) => l.uuid)).toEqual([u('env-l2-vlan')]);
    const pool = (await c.call('POST', '/l2-networks/vxlan-pool', { params: { name: 'env-pool', zoneUuid: u('env-zone') } })).inventory;
    await c.call('POST', `/l2-networks/vxlan-pool/${pool.uuid}/vni-ranges`, { params: { name: 'env-vnis', startVni: 500, endVni: 509 } });
    const vx = (await c.call('POST', '/l2-networks/vxlan', { params: { name: 'env-vx', poolUuid: pool.uuid } })).inventory;
    expect((await query(`/l2-networks/vxlan-pool${qs({ q: `uuid=${pool.uuid}` })}`)).map((p) => p.name)).toEqual(['env-pool']);
    expect((await query(`/l2-networks/vxlan-pool/vni-range${qs({ q: `l2NetworkUuid=${pool.uuid}` })}`)).map((r) => [r.startVni, r.endVni])).toEqual([[500, 509]]);
    expect((await query(`/l2-networks/vxlan${qs({ q: `poolUuid=${pool.uuid}` })}`)).map((x) => [x.uuid, x.vni])).toEqual([[vx.uuid, 500]]);
    expect((await query(`/l3-networks/ip-ranges${qs({ q: `l3NetworkUuid=${u('env-public')}` })}`)).map((r) => [r.startIp, r.endIp])).toEqual([['192.168.60.10', '192.168.60.20']]);
    const services = async () => (await query(`/l3-networks/network-services/refs${qs({ q: `l3NetworkUuid=${u('env-private')}` })}`)).map((r) => r.networkServiceType).sort();
    expect(await services()).toEqual(['DHCP', 'DNS', 'Eip', 'SecurityGroup']);
    await c.call('DELETE', `/l3-networks/${u('env-private')}/network-services${qs({ service: 'DNS' })}`);
    expect(await services()).toEqual(['DHCP', 'Eip', 'SecurityGroup']);
  });

  it('moves a VM across clusters, starts the stopped one, and keeps capacity and agents in step', async () => {
    const before = await hostFree();
    const moved = (await action(`/vm-instances/${u('env-vm-1')}/actions`, { migrateVm: { hostUuid: u('env-host-3') } })).inventory;
    expect(moved).toMatchObject({ state: 'Running', hostUuid: u('env-host-3'), lastHostUuid: u('env-host-1'), clusterUuid: u('env-cluster-b') });
    const after = await hostFree();
    expect(after['env-host-1']).toEqual([before['env-host-1'][0] + 1, before['env-host-1'][1] + GiB]);
    expect(after['env-host-3']).toEqual([before['env-host-3'][0] - 1, before['env-host-3'][1] - GiB]);
    const fleet = simulatorFleetOf(t.node.ctx);
    expect(vmsOf(fleet.agent(u('env-host-3'))!)[u('env-vm-1')]).toBe('Running');
    expect(vmsOf(fleet.agent(u('env-host-1'))!)[u('env-vm-1')]).toBeUndefined();
    const started = (await action(`/vm-instances/${u('env-vm-2')}/actions`, { startVmInstance: {} })).inventory;
    expect(started.state).toBe('Running');
    expect(vmsOf(fleet.agent(started.hostUuid)!)[u('env-vm-2')]).toBe('Running');
  });

  it('takes the whole world apart through REST and every host, address and volume is free again', async () => {
    const total = Object.fromEntries((await db().selectFrom('host').select(['name', 'totalCpuCapacity', 'totalMemoryCapacity']).execute()).map((h) => [h.name, [Number(h.totalCpuCapacity), Number(h.totalMemoryCapacity)]]));
    await c.call('DELETE', `/eips/${u('env-eip')}`);
    await c.call('DELETE', `/vips/${u('env-vip')}`);
    for (const s of ['env-root-snap', 'env-data-snap']) await c.call('DELETE', `/volume-snapshots/${u(s)}`);
    await c.call('DELETE', `/volumes/${u('env-data')}/vm-instances`);
    for (const v of ['env-data', 'env-spare']) {
      await c.call('DELETE', `/volumes/${u(v)}`);
      await action(`/volumes/${u(v)}/actions`, { expungeDataVolume: {} });
    }
    for (const vm of ['env-vm-1', 'env-vm-2']) {
      const data = (await query(`/volumes${qs({ q: [`vmInstanceUuid=${u(vm)}`, 'type=Data'] })}`)).map((v) => v.uuid as string);
      await c.call('DELETE', `/vm-instances/${u(vm)}`);
      await action(`/vm-instances/${u(vm)}/actions`, { expungeVmInstance: {} });
      // Data volumes outlive their VM (detached, kept): expunged here so nothing is left.
      for (const v of data) {
        await c.call('DELETE', `/volumes/${v}`);
        await action(`/volumes/${v}/actions`, { expungeDataVolume: {} });
      }
    }
    expect(await hostFree()).toEqual(total);
    expect(await query(`/l3-networks/ip-address${qs({ q: `l3NetworkUuid=${u('env-private')}` })}`)).toEqual([]);
    expect(await query(`/l3-networks/ip-address${qs({ q: `l3NetworkUuid=${u('env-public')}` })}`)).toEqual([]);
    expect(await query('/volumes')).toEqual([]);
    expect(await query('/volume-snapshots')).toEqual([]);
    expect(await query('/vm-instances')).toEqual([]);
  });
});
