import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { createCluster, createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;

describe.each(testDatabaseKinds())('VLAN L2 networks and hosts that cannot realize them, on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zoneUuid: string;
  let ipSeq = 0;
  /** Management IPs whose simulated agent answers /host/connect with vlanSupported: false. */
  const noVlan = new Set<string>();
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const addHost = (name: string, clusterUuid: string, vlanSupported: boolean) => {
    const managementIp = `10.7.${Math.floor(++ipSeq / 250)}.${ipSeq % 250 + 1}`;
    if (!vlanSupported) noVlan.add(managementIp);
    return c.send('POST', '/hosts/simulators', { params: { name, managementIp, clusterUuid, cpuCapacity: 4, memoryCapacity: 8 * GiB } });
  };
  const vlanL2 = async (name: string, vlan: number) => (await c.call('POST', '/l2-networks/vlan', { params: { name, zoneUuid, physicalInterface: 'eth1', vlan } })).inventory;
  const attach = (l2: string, cluster: string) => c.send('POST', `/l2-networks/${l2}/clusters/${cluster}`, { null: {} });
  const refs = (cluster: string) => db().selectFrom('l2_network_cluster_ref').select('l2NetworkUuid').where('clusterUuid', '=', cluster).execute();
  const hostsWith = async (tag: string) => (await c.call('GET', `/hosts${qs({ q: [`__systemTag__=${tag}`] })}`)).inventories.map((h: any) => h.name).sort();

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    zoneUuid = (await createZone(c, 'vlan-zone')).uuid;
    // The simulated agent reports the fact as a real agent's /host/connect does (src/agent/host/host-facts.ts).
    fleet().defineCommand('host', '/host/connect', (cmd: { hostUuid?: string }, agent) => {
      agent.state.hostUuid = cmd.hostUuid;
      const ip = t.node.ctx.db.selectFrom('host').select('managementIp').where('uuid', '=', String(cmd.hostUuid)).executeTakeFirst();
      return ip.then((h) => ({ libvirtVersion: 'simulated', vlanSupported: !noVlan.has(String(h?.managementIp)) }));
    }, { sync: true });
  });
  afterAll(async () => t?.stop());

  it('records each host\'s vlanSupported fact as a queryable system tag', async () => {
    const cluster = (await createCluster(c, zoneUuid, 'fact-cluster', { hypervisorType: 'Simulator' })).uuid;
    expect((await addHost('fact-able', cluster, true)).body.inventory.status).toBe('Connected');
    expect((await addHost('fact-unable', cluster, false)).body.inventory.status).toBe('Connected'); // no VLAN L2 there: it may join
    expect(await hostsWith('vlanSupported::true')).toContain('fact-able');
    expect(await hostsWith('vlanSupported::false')).toEqual(['fact-unable']);
  });

  it('refuses to attach a VLAN L2 to a cluster with a host lacking 802.1Q and OVS, naming the host, and changes nothing', async () => {
    const cluster = (await createCluster(c, zoneUuid, 'mixed-cluster', { hypervisorType: 'Simulator' })).uuid;
    await addHost('mixed-able', cluster, true);
    const unable = (await addHost('mixed-unable', cluster, false)).body.inventory;
    const l2 = await vlanL2('vlan-100', 100);
    const r = await attach(l2.uuid, cluster);
    expect(r.body.error).toMatchObject({ code: 'SYS.1006' });
    expect(r.body.error.details).toMatch(/cannot attach the VLAN L2 network .* host mixed-unable\[uuid:[0-9a-f]{32}\] cannot realize VLAN networks: its kernel cannot make 802\.1Q devices and Open vSwitch is not installed/);
    expect(await refs(cluster)).toEqual([]);
    expect((await c.call('GET', `/l2-networks${qs({ q: [`clusterRef.clusterUuid=${cluster}`] })}`)).inventories).toEqual([]);
    // A NoVlan L2 is not concerned.
    const flat = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'flat', zoneUuid, physicalInterface: 'eth0' } })).inventory;
    expect((await attach(flat.uuid, cluster)).body.error).toBeUndefined();
    // Once the host is gone the same attach goes through.
    await c.call('DELETE', `/hosts/${unable.uuid}`);
    expect((await attach(l2.uuid, cluster)).body.error).toBeUndefined();
    expect((await refs(cluster)).map((x) => x.l2NetworkUuid).sort()).toEqual([flat.uuid, l2.uuid].sort());
  });

  it('refuses to add a host lacking VLAN support to a cluster with a VLAN L2 (the add rolls back), and leaves a host that lost it Disconnected on reconnect', async () => {
    const cluster = (await createCluster(c, zoneUuid, 'vlan-cluster', { hypervisorType: 'Simulator' })).uuid;
    const able = (await addHost('vlan-able', cluster, true)).body.inventory;
    const l2 = await vlanL2('vlan-200', 200);
    expect((await attach(l2.uuid, cluster)).body.error).toBeUndefined();

    const refused = await addHost('vlan-unable', cluster, false);
    expect(refused.body.error.details).toMatch(/host vlan-unable\[uuid:[0-9a-f]{32}\] cannot join cluster [0-9a-f]{32}, which has the VLAN L2 network [0-9a-f]{32} attached: its kernel cannot make 802\.1Q devices/);
    expect(await db().selectFrom('host').select('uuid').where('name', '=', 'vlan-unable').execute()).toEqual([]);
    expect(await db().selectFrom('system_tag').select('uuid').where('resourceType', '=', 'HostVO').where('resourceUuid', 'not in', db().selectFrom('host').select('uuid')).execute()).toEqual([]);

    // The connected host's agent comes back without VLAN support (OVS removed, a new kernel): the reconnect fails and says why.
    noVlan.add(able.managementIp);
    const bad = await c.send('PUT', `/hosts/${able.uuid}/actions`, { reconnectHost: {} });
    expect(bad.body.error.details).toContain('cannot join cluster');
    expect((await db().selectFrom('host').select('status').where('uuid', '=', able.uuid).executeTakeFirst())?.status).toBe('Disconnected');
    expect(await hostsWith('vlanSupported::false')).toContain('vlan-able');
    noVlan.delete(able.managementIp);
    expect((await c.call('PUT', `/hosts/${able.uuid}/actions`, { reconnectHost: {} })).inventory.status).toBe('Connected');
    expect(await hostsWith('vlanSupported::false')).not.toContain('vlan-able');
  });
});
