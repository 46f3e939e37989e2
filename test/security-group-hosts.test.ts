import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityGroupAgentPaths } from '../src/contracts/security-group.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { securityGroupsOf } from '../src/plugins/security-group-kvm/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { stepFailures } from './support/failing-steps.ts';
import { qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

const failures = stepFailures('test-failing-sg-migrate');

/** What the node sends hosts for security groups, seen from simulated hosts (they keep the rules a real host would realize). */
describe.each(testDatabaseKinds())('security groups on hosts: what the node sends, on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let sg: string;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const held = (host: string) => securityGroupsOf(fleet().agent(host)!);
  const vmAction = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const vm = async (uuid: string) => (await c.call('GET', `/vm-instances/${uuid}`)).inventories[0];
  const createVm = async (name: string, hostUuid?: string) => {
    const r = await c.send('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], ...(hostUuid ? { hostUuid } : {}) } });
    expect(r.status, r.text).toBe(200);
    return r.body.inventory as { uuid: string; hostUuid: string; vmNics: Array<{ uuid: string; ip: string; internalName: string }> };
  };
  const join = (nic: string) => c.call('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: [nic] } });
  /** The ports of the rules a host holds for a tap, e.g. ['ALL from 10.x,10.y', 'TCP 8080']. */
  const ingress = (host: string, tap: string) => held(host)[tap]?.rules.filter((r) => r.type === 'Ingress' && r.ipVersion === 4).map((r) => (r.remoteGroupIps ? `${r.protocol} from ${[...r.remoteGroupIps].sort().join(',')}` : `${r.protocol} ${r.startPort}`));

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    w = await buildVmWorld(c, 'sghost', { subnet: '10.71.0' });
    const provider = (await c.call('GET', `/network-services/providers${qs({ q: 'type=SecurityGroup' })}`)).inventories[0].uuid;
    await c.call('POST', `/l3-networks/${w.l3}/network-services`, { params: { networkServices: { [provider]: ['SecurityGroup'] } } });
    sg = (await c.call('POST', '/security-groups', { params: { name: 'web' } })).inventory.uuid;
    await c.call('POST', `/security-groups/${sg}/l3-networks/${w.l3}`, { params: {} });
  });
  afterAll(async () => t?.stop());

  it('applies a member NIC\'s rules on its host, updates every member when rules or members change, and removes them when it leaves', async () => {
    const [h0, h1] = w.hosts;
    const a = await createVm('sg-a', h0);
    const b = await createVm('sg-b', h1);
    const [na, nb] = [a.vmNics[0], b.vmNics[0]];
    expect(held(h0)[na.internalName]).toBeUndefined(); // not a member yet: nothing sent
    await join(na.uuid);
    expect(held(h0)[na.internalName].nic).toMatchObject({ vmNicUuid: na.uuid, mac: expect.any(String), ips: [na.ip], securityGroupUuids: [sg] });
    expect(ingress(h0, na.internalName)).toEqual([`ALL from ${na.ip}`]);
    // B joins: A's default rule (from members) now names B's address too, on A's host, at once
    await join(nb.uuid);
    const both = [na.ip, nb.ip].sort().join(',');
    expect(ingress(h0, na.internalName)).toEqual([`ALL from ${both}`]);
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${both}`]);
    // a rule added reaches every member's host before the API answers
    const withRule = (await c.call('POST', `/security-groups/${sg}/rules`, { params: { rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 8080, endPort: 8080, allowedCidr: '0.0.0.0/0' }] } })).inventory;
    expect(ingress(h0, na.internalName)).toEqual([`ALL from ${both}`, 'TCP 8080']);
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${both}`, 'TCP 8080']);
    const rule = withRule.rules.find((r: any) => r.protocol === 'TCP').uuid;
    await c.call('DELETE', `/security-groups/rules${qs({ ruleUuids: rule })}`);
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${both}`]);
    // A leaves the group: its chains go, B's rules stop naming A
    await c.call('DELETE', `/security-groups/${sg}/vm-instances/nics${qs({ vmNicUuids: na.uuid })}`);
    expect(held(h0)[na.internalName]).toBeUndefined();
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${nb.ip}`]);
    await join(na.uuid);
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${both}`]);
    // a destroyed member's address stops counting at once
    expect((await c.send('DELETE', `/vm-instances/${a.uuid}`)).status).toBe(200);
    expect(held(h0)[na.internalName]).toBeUndefined();
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${nb.ip}`]);
    expect((await c.send('DELETE', `/vm-instances/${b.uuid}`)).status).toBe(200);
    expect(held(h1)[nb.internalName]).toBeUndefined();
  });

  it('applies before /vm/start, removes on stop and on a failed start, and a failed apply fails the start', async () => {
    const [h0] = w.hosts;
    const a = await createVm('sg-start', h0);
    const tap = a.vmNics[0].internalName;
    await join(a.vmNics[0].uuid);
    expect((await vmAction(a.uuid, { stopVmInstance: {} })).status).toBe(200);
    expect(held(h0)[tap]).toBeUndefined();

    const agent = fleet().agent(h0)!;
    const before = agent.received.length;
    expect((await vmAction(a.uuid, { startVmInstance: { hostUuid: h0 } })).status).toBe(200);
    const paths = agent.received.slice(before).map((r) => r.path);
    expect(paths.indexOf(SecurityGroupAgentPaths.applyRules)).toBeGreaterThanOrEqual(0);
    expect(paths.indexOf(SecurityGroupAgentPaths.applyRules)).toBeLessThan(paths.indexOf('/vm/start'));
    expect(held(h0)[tap]).toBeDefined();
    await vmAction(a.uuid, { stopVmInstance: {} });

    // the agent failing /vm/start: the rollback takes the rules away again
    agent.configure('/vm/start', { error: 'qemu on fire', times: 1 });
    expect((await vmAction(a.uuid, { startVmInstance: { hostUuid: h0 } })).status).toBe(503);
    expect(held(h0)[tap]).toBeUndefined();
    // the rules failing to apply: the VM is not started at all
    agent.configure(SecurityGroupAgentPaths.applyRules, { error: 'iptables-restore failed', times: 1 });
    const starts = agent.count('/vm/start');
    const failed = await vmAction(a.uuid, { startVmInstance: { hostUuid: h0 } });
    expect(failed.status).toBe(503);
    expect(agent.count('/vm/start')).toBe(starts);
    expect((await vm(a.uuid)).state).toBe('Stopped');
    await c.call('DELETE', `/vm-instances/${a.uuid}`);
  });

  it('a disabled group stops counting (its members lose its rules) and an enabled one counts again; VMs on other L3s cost no agent call', async () => {
    const [h0] = w.hosts;
    const a = await createVm('sg-state', h0);
    const tap = a.vmNics[0].internalName;
    await join(a.vmNics[0].uuid);
    const state = (stateEvent: string) => c.call('PUT', `/security-groups/${sg}/actions`, { changeSecurityGroupState: { stateEvent } });
    await state('disable');
    expect(held(h0)[tap]).toBeUndefined();
    await state('enable');
    expect(ingress(h0, tap)).toEqual([`ALL from ${a.vmNics[0].ip}`]);
    await c.call('DELETE', `/vm-instances/${a.uuid}`);

    const agent = fleet().agent(h0)!;
    const sent = () => agent.count(SecurityGroupAgentPaths.applyRules);
    const before = sent();
    const other = await c.send('POST', '/vm-instances', { params: { name: 'sg-none', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3b], hostUuid: h0 } });
    expect(other.status, other.text).toBe(200);
    expect((await vmAction(other.body.inventory.uuid, { stopVmInstance: {} })).status).toBe(200);
    await c.call('DELETE', `/vm-instances/${other.body.inventory.uuid}`);
    expect(sent()).toBe(before);
  });

  it('a host that refused an apply gets its whole set again at once, and after the failure worker interval when it refused twice', async () => {
    const [h0] = w.hosts;
    const a = await createVm('sg-refused', h0);
    const b = await createVm('sg-refused-b', h0);
    const agent = fleet().agent(h0)!;
    agent.configure(SecurityGroupAgentPaths.applyRules, { error: 'iptables-restore: resource busy', times: 1 });
    await join(a.vmNics[0].uuid);
    expect(ingress(h0, a.vmNics[0].internalName)).toEqual([`ALL from ${a.vmNics[0].ip}`]);
    // refused twice: the API still answers (the change is the node's), and the host catches up later
    await c.call('PUT', '/global-configurations/securityGroup/host.failureWorkerInterval/actions', { updateGlobalConfig: { value: '1' } });
    try {
      agent.configure(SecurityGroupAgentPaths.applyRules, { error: 'iptables-restore: resource busy', times: 2 });
      await join(b.vmNics[0].uuid);
      expect(held(h0)[b.vmNics[0].internalName]).toBeUndefined();
      const both = [a.vmNics[0].ip, b.vmNics[0].ip].sort().join(',');
      await waitFor('the host to catch up', () => ingress(h0, b.vmNics[0].internalName)?.[0] === `ALL from ${both}`, 10_000);
      expect(ingress(h0, a.vmNics[0].internalName)).toEqual([`ALL from ${both}`]);
    } finally {
      await c.call('PUT', '/global-configurations/securityGroup/host.failureWorkerInterval/actions', { updateGlobalConfig: { value: '60' } });
    }
    await c.call('DELETE', `/vm-instances/${a.uuid}`);
    await c.call('DELETE', `/vm-instances/${b.uuid}`);
  });

  it('a member joining while its host reconnects, after the reconnect sent the host its set, reaches the host', async () => {
    const [h0] = w.hosts;
    const a = await createVm('sg-during-connect', h0);
    const agent = fleet().agent(h0)!;
    // the reconnect's refresh is answered late: the host stays Connecting while the NIC joins
    agent.configure(SecurityGroupAgentPaths.refreshRulesOnHost, { delayMs: 1500, times: 1 });
    const sent = agent.count(SecurityGroupAgentPaths.refreshRulesOnHost);
    const reconnect = c.send('PUT', `/hosts/${h0}/actions`, { reconnectHost: {} });
    await waitFor('the reconnect to send the host its set', () => agent.count(SecurityGroupAgentPaths.refreshRulesOnHost) > sent);
    expect((await c.call('GET', `/hosts/${h0}`)).inventories[0].status).toBe('Connecting');
    await join(a.vmNics[0].uuid);
    expect((await reconnect).status).toBe(200);
    expect(ingress(h0, a.vmNics[0].internalName)).toEqual([`ALL from ${a.vmNics[0].ip}`]);
    await c.call('DELETE', `/vm-instances/${a.uuid}`);
  });

  it('moves the rules with a migrating VM and refreshes a reconnected host with its whole set', async () => {
    const [h0, h1] = w.hosts;
    const a = await createVm('sg-move', h0);
    const tap = a.vmNics[0].internalName;
    await join(a.vmNics[0].uuid);
    expect((await vmAction(a.uuid, { migrateVm: { hostUuid: h1 } })).status).toBe(200);
    expect(held(h1)[tap]).toBeDefined();
    expect(held(h0)[tap]).toBeUndefined();
    // a host that lost its rules (rebooted) gets them back, and stale ones vanish, when it reconnects
    fleet().agent(h1)!.state.securityGroups = { stale0: { nic: { internalName: 'stale0' }, rules: [] } };
    expect((await c.send('PUT', `/hosts/${h1}/actions`, { reconnectHost: {} })).status).toBe(200);
    expect(Object.keys(held(h1))).toEqual([tap]);
    expect(ingress(h1, tap)).toEqual([`ALL from ${a.vmNics[0].ip}`]);
    await c.call('DELETE', `/vm-instances/${a.uuid}`);
  });

  it('a NIC attached to a running VM gets its rules once it joins and loses them when detached; a deleted group leaves its members and the groups naming it', async () => {
    const [h0, h1] = w.hosts;
    const group = async (name: string) => {
      const uuid = (await c.call('POST', '/security-groups', { params: { name } })).inventory.uuid as string;
      await c.call('POST', `/security-groups/${uuid}/l3-networks/${w.l3}`, { params: {} });
      return uuid;
    };
    const doomed = await group('doomed');
    const watcher = await group('watcher');
    await c.call('POST', `/security-groups/${watcher}/rules`, { params: { rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 22, endPort: 22, remoteSecurityGroupUuid: doomed }] } });
    // A runs on the L3 without security groups, then gets a NIC on the one with them
    const made = await c.send('POST', '/vm-instances', { params: { name: 'sg-nics', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3b], hostUuid: h0 } });
    expect(made.status, made.text).toBe(200);
    const a = made.body.inventory.uuid as string;
    const vmNics = (await c.call('POST', `/vm-instances/${a}/l3-networks/${w.l3}`, { params: {} })).inventory.vmNics as Array<{ uuid: string; ip: string; internalName: string; l3NetworkUuid: string }>;
    const na = vmNics.find((n) => n.l3NetworkUuid === w.l3)!;
    expect(held(h0)[na.internalName]).toBeUndefined();
    await c.call('POST', `/security-groups/${doomed}/vm-instances/nics`, { params: { vmNicUuids: [na.uuid] } });
    expect(ingress(h0, na.internalName)).toEqual([`ALL from ${na.ip}`]);
    const b = await createVm('sg-watcher', h1);
    const nb = b.vmNics[0];
    await c.call('POST', `/security-groups/${watcher}/vm-instances/nics`, { params: { vmNicUuids: [nb.uuid] } });
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${nb.ip}`, `TCP from ${na.ip}`]);

    expect((await c.send('DELETE', `/security-groups/${doomed}`)).status).toBe(200);
    expect(held(h0)[na.internalName]).toBeUndefined();
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${nb.ip}`]);

    await c.call('POST', `/security-groups/${watcher}/vm-instances/nics`, { params: { vmNicUuids: [na.uuid] } });
    expect(held(h0)[na.internalName]).toBeDefined();
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${[na.ip, nb.ip].sort().join(',')}`]);
    expect((await c.send('DELETE', `/vm-instances/nics/${na.uuid}`)).status).toBe(200);
    expect(held(h0)[na.internalName]).toBeUndefined();
    expect(ingress(h1, nb.internalName)).toEqual([`ALL from ${nb.ip}`]);
    for (const vmUuid of [a, b.uuid]) await c.call('DELETE', `/vm-instances/${vmUuid}`);
    await c.call('DELETE', `/security-groups/${watcher}`);
  });

  it('a rule added while the VM migrates reaches the target; a migration rolled back after record-on-target leaves the source its chains', async () => {
    const [h0, h1] = w.hosts;
    const a = await createVm('sg-moving', h0);
    const tap = a.vmNics[0].internalName;
    await join(a.vmNics[0].uuid);
    // the source answers /vm/migrate late: the rule is added while the VM is Migrating (recorded on h0)
    const source = fleet().agent(h0)!;
    const asked = source.count('/vm/migrate');
    source.configure('/vm/migrate', { delayMs: 1500, times: 1 });
    const moving = vmAction(a.uuid, { migrateVm: { hostUuid: h1 } });
    await waitFor('the migration on the source', () => source.count('/vm/migrate') > asked);
    expect(held(h1)[tap]).toBeDefined(); // the target got the rules before /vm/migrate
    await c.call('POST', `/security-groups/${sg}/rules`, { params: { rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 9090, endPort: 9090, allowedCidr: '0.0.0.0/0' }] } });
    expect((await moving).status).toBe(200);
    expect((await vm(a.uuid)).hostUuid).toBe(h1);
    expect(ingress(h1, tap)).toEqual([`ALL from ${a.vmNics[0].ip}`, 'TCP 9090']);
    expect(held(h0)[tap]).toBeUndefined();

    // the step after record-on-target fails: the VM goes back to h0, which lost its chains when the VM was recorded on h1
    failures.at = { path: 'vm.migrate/release-source', when: 'before' };
    try {
      expect((await vmAction(a.uuid, { migrateVm: { hostUuid: h0 } })).status).not.toBe(200);
    } finally {
      failures.at = undefined;
    }
    expect((await vm(a.uuid)).hostUuid).toBe(h1);
    expect(ingress(h1, tap)).toEqual([`ALL from ${a.vmNics[0].ip}`, 'TCP 9090']);
    expect(held(h0)[tap]).toBeUndefined();
    await c.call('DELETE', `/vm-instances/${a.uuid}`);
  });
});
