import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityGroupEvents, SecurityGroupMembershipPoint, SecurityGroupMessages, type SecurityGroupRulesChangedEvent } from '../src/contracts/security-group.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { countRows, createZone, qs, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const SG_TABLES = ['security_group', 'security_group_rule', 'security_group_l3_ref', 'vm_nic_security_group_ref', 'system_tag', 'user_tag'];

/** Test-only observer of NIC membership, as a host-side backend will be. */
const membershipLog: string[] = [];
const membershipObserver: ServiceModule = {
  id: 'test.sg-membership',
  setup(ctx) {
    ctx.extensions.registerObserver(SecurityGroupMembershipPoint, {
      afterNicsAdded: (sg, nics) => void membershipLog.push(`add:${sg}:${nics.map((n) => n.vmNicUuid).join(',')}`),
      afterNicsRemoved: (sg, nics) => void membershipLog.push(`remove:${sg}:${nics.join(',')}`),
    });
  },
};

describe.each(testDatabaseKinds())('security groups through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let l2: any;
  let providerUuid: string;
  const events: SecurityGroupRulesChangedEvent[] = [];
  const db = () => t.node.ctx.db;
  const fail = async (method: string, path: string, body?: unknown) => (await c.send(method, path, body)).body.error;
  const newSg = async (name: string, extra: Record<string, unknown> = {}) => (await c.call('POST', '/security-groups', { params: { name, ...extra } })).inventory;
  const addRules = (sg: string, rules: unknown[]) => c.send('POST', `/security-groups/${sg}/rules`, { params: { rules } });
  const newL3 = async (name: string, withSgService = true) => {
    const l3 = (await c.call('POST', '/l3-networks', { params: { name, l2NetworkUuid: l2.uuid } })).inventory;
    if (withSgService) await c.call('POST', `/l3-networks/${l3.uuid}/network-services`, { params: { networkServices: { [providerUuid]: ['SecurityGroup'] } } });
    return l3;
  };
  const bus = () => t.node.ctx.bus;

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [membershipObserver] });
    c = await t.login();
    const zone = await createZone(c, 'sg-zone');
    l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'sg-l2', zoneUuid: zone.uuid, physicalInterface: 'eth0' } })).inventory;
    providerUuid = (await c.call('GET', `/network-services/providers${qs({ q: 'type=SecurityGroup' })}`)).inventories[0].uuid;
    bus().subscribe<SecurityGroupRulesChangedEvent>(SecurityGroupEvents.rulesChanged, (e) => void events.push(e));
  });
  afterAll(async () => t?.stop());

  it('creates a group with ZStack\'s four default rules, updates it, changes its state and queries it', async () => {
    const sg = await newSg('sg-basic', { description: 'web tier' });
    expect(sg).toMatchObject({ name: 'sg-basic', description: 'web tier', state: 'Enabled', ipVersion: 4, attachedL3NetworkUuids: [] });
    expect(sg.internalId).toBeGreaterThan(0);
    expect(sg.rules).toHaveLength(4);
    for (const r of sg.rules) expect(r).toMatchObject({ securityGroupUuid: sg.uuid, remoteSecurityGroupUuid: sg.uuid, protocol: 'ALL', startPort: -1, endPort: -1, priority: 0, description: 'default rule', action: 'ACCEPT', state: 'Enabled' });
    expect(sg.rules.map((r: any) => `${r.type}/${r.ipVersion}/${r.allowedCidr}`).sort()).toEqual(['Egress/4/0.0.0.0/0', 'Egress/6/::/0', 'Ingress/4/0.0.0.0/0', 'Ingress/6/::/0']);
    const other = await newSg('sg-basic-2');
    expect(other.internalId).not.toBe(sg.internalId);

    expect((await c.call('PUT', `/security-groups/${sg.uuid}/actions`, { updateSecurityGroup: { name: 'sg-renamed' } })).inventory).toMatchObject({ name: 'sg-renamed', description: 'web tier' });
    expect((await c.call('PUT', `/security-groups/${sg.uuid}/actions`, { changeSecurityGroupState: { stateEvent: 'disable' } })).inventory.state).toBe('Disabled');
    await waitFor('state event', () => events.find((e) => e.securityGroupUuid === sg.uuid && e.reason === 'stateChanged'));
    expect((await c.call('GET', `/security-groups${qs({ q: ['name=sg-renamed', 'rules.ipVersion=6'] })}`)).inventories.map((x: any) => x.uuid)).toEqual([sg.uuid]);
    expect((await c.call('GET', `/security-groups/rules${qs({ q: [`securityGroupUuid=${sg.uuid}`, 'type=Ingress'] })}`)).inventories).toHaveLength(2);
    expect((await c.call('GET', `/security-groups/rules${qs({ q: ['securityGroup.name=sg-renamed'], count: true })}`)).total).toBe(4);
    expect((await fail('PUT', `/security-groups/${newUuid()}/actions`, { updateSecurityGroup: { name: 'x' } })).code).toBe('SYS.1003');
  });

  it('adds valid rules, announces them, and refuses bad ports, CIDRs, an unknown remote group and duplicates without writing anything', async () => {
    const sg = await newSg('sg-rules');
    const remote = await newSg('sg-remote');
    const r = await addRules(sg.uuid, [
      { type: 'Ingress', protocol: 'TCP', startPort: 22, endPort: 22, allowedCidr: '10.0.0.0/8' },
      { type: 'Ingress', protocol: 'UDP', startPort: 1000, endPort: 2000 },
      { type: 'Egress', protocol: 'ICMP' },
      { type: 'Ingress', protocol: 'TCP', startPort: 443, endPort: 443, remoteSecurityGroupUuid: remote.uuid },
      { type: 'Ingress', protocol: 'TCP', startPort: 80, endPort: 80, ipVersion: 6, allowedCidr: 'fd00::/8' },
    ]);
    expect(r.status, r.text).toBe(200);
    const added = r.body.inventory.rules.filter((x: any) => x.priority !== 0);
    expect(added).toHaveLength(5);
    expect(added.find((x: any) => x.protocol === 'ICMP')).toMatchObject({ type: 'Egress', startPort: -1, endPort: -1, allowedCidr: '0.0.0.0/0', ipVersion: 4 });
    expect(added.find((x: any) => x.protocol === 'UDP')).toMatchObject({ startPort: 1000, endPort: 2000, allowedCidr: '0.0.0.0/0' });
    expect(added.find((x: any) => x.startPort === 443).remoteSecurityGroupUuid).toBe(remote.uuid);
    const ev = await waitFor('rules event', () => events.find((e) => e.securityGroupUuid === sg.uuid && e.reason === 'rulesAdded'));
    expect(ev.addedRuleUuids.sort()).toEqual(added.map((x: any) => x.uuid).sort());

    const before = await countRows(db(), SG_TABLES);
    const refused = async (rule: Record<string, unknown>, code: string, mention: string) => {
      const res = await addRules(sg.uuid, [{ type: 'Ingress', ...rule }]);
      expect(res.status, JSON.stringify(rule)).toBe(503);
      expect(res.body.error.code, res.text).toBe(code);
      expect(res.body.error.details, res.text).toContain(mention);
    };
    await refused({ protocol: 'TCP', startPort: 0, endPort: 22 }, 'SYS.1007', 'out of range');
    await refused({ protocol: 'TCP', startPort: 1, endPort: 65536 }, 'SYS.1007', 'out of range');
    await refused({ protocol: 'UDP', startPort: 100, endPort: 99 }, 'SYS.1007', 'greater than endPort');
    await refused({ protocol: 'TCP' }, 'SYS.1007', 'needs startPort');
    await refused({ protocol: 'ICMP', startPort: 8, endPort: 0 }, 'SYS.1007', 'takes startPort -1');
    await refused({ protocol: 'ALL', allowedCidr: '10.0.0.0/33' }, 'SYS.1007', 'not a CIDR');
    await refused({ protocol: 'ALL', allowedCidr: 'fd00::/8' }, 'SYS.1007', 'not an IPv4 CIDR');
    await refused({ protocol: 'ALL', remoteSecurityGroupUuid: newUuid() }, 'SYS.1003', 'remote SecurityGroup');
    await refused({ protocol: 'TCP', startPort: 22, endPort: 22, allowedCidr: '10.0.0.0/8', description: 'same again' }, 'SYS.1007', 'duplicates');
    const twice = await addRules(sg.uuid, [{ type: 'Egress', protocol: 'TCP', startPort: 8080, endPort: 8080 }, { type: 'Egress', protocol: 'TCP', startPort: 8080, endPort: 8080 }]);
    expect(twice.body.error.details).toContain('rules[1] duplicates');
    expect((await addRules(newUuid(), [{ type: 'Ingress' }])).body.error.code).toBe('SYS.1003');
    expect(await countRows(db(), SG_TABLES)).toEqual(before);
  });

  it('deletes rules by uuid, announcing them, and refuses rules of two groups in one call', async () => {
    const sg = await newSg('sg-del-rules');
    const other = await newSg('sg-del-other');
    const rules = (await addRules(sg.uuid, [{ type: 'Ingress', protocol: 'TCP', startPort: 1, endPort: 10 }, { type: 'Ingress', protocol: 'TCP', startPort: 11, endPort: 20 }])).body.inventory.rules.filter((r: any) => r.priority !== 0);
    const otherRule = (await addRules(other.uuid, [{ type: 'Ingress', protocol: 'TCP', startPort: 1, endPort: 10 }])).body.inventory.rules.find((r: any) => r.priority !== 0);
    const mixed = await c.send('DELETE', `/security-groups/rules${qs({ ruleUuids: [rules[0].uuid, otherRule.uuid] })}`);
    expect(mixed.body.error.details).toContain('2 security groups');
    const res = await c.call('DELETE', `/security-groups/rules${qs({ ruleUuids: rules.map((r: any) => r.uuid) })}`);
    expect(res.inventory.uuid).toBe(sg.uuid);
    expect(res.inventory.rules).toHaveLength(4);
    const ev = await waitFor('delete event', () => events.find((e) => e.securityGroupUuid === sg.uuid && e.reason === 'rulesDeleted'));
    expect(ev.deletedRuleUuids.sort()).toEqual(rules.map((r: any) => r.uuid).sort());
    expect((await c.send('DELETE', `/security-groups/rules${qs({ ruleUuids: [newUuid()] })}`)).body.error.code).toBe('SYS.1003');
  });

  it('attaches to L3 networks with the SecurityGroup service only, once, and detaches', async () => {
    const sg = await newSg('sg-l3');
    const plain = await newL3('sg-l3-plain', false);
    const l3 = await newL3('sg-l3-ok');
    expect((await fail('POST', `/security-groups/${sg.uuid}/l3-networks/${plain.uuid}`, { params: {} })).details).toContain('no network service of type SecurityGroup');
    const attached = await c.call('POST', `/security-groups/${sg.uuid}/l3-networks/${l3.uuid}`, { params: {} });
    expect(attached.inventory.attachedL3NetworkUuids).toEqual([l3.uuid]);
    expect((await fail('POST', `/security-groups/${sg.uuid}/l3-networks/${l3.uuid}`, { params: {} })).details).toContain('already attached');
    expect((await fail('POST', `/security-groups/${sg.uuid}/l3-networks/${newUuid()}`, { params: {} })).code).toBe('SYS.1003');
    expect((await c.call('GET', `/security-groups${qs({ q: [`l3NetworkRefs.l3NetworkUuid=${l3.uuid}`] })}`)).inventories.map((x: any) => x.uuid)).toEqual([sg.uuid]);
    const detached = await c.call('DELETE', `/security-groups/${sg.uuid}/l3-networks/${l3.uuid}`);
    expect(detached.inventory.attachedL3NetworkUuids).toEqual([]);
    expect((await fail('DELETE', `/security-groups/${sg.uuid}/l3-networks/${l3.uuid}`)).details).toContain('not attached');
  });

  it('takes NICs as members through bus messages only on attached L3 networks; detaching the L3 network removes them', async () => {
    const sg = await newSg('sg-members');
    const l3a = await newL3('sg-members-a');
    const l3b = await newL3('sg-members-b');
    await c.call('POST', `/security-groups/${sg.uuid}/l3-networks/${l3a.uuid}`, { params: {} });
    const nic = (l3: string) => ({ vmNicUuid: newUuid(), vmInstanceUuid: newUuid(), l3NetworkUuid: l3 });
    const [n1, n2, off] = [nic(l3a.uuid), nic(l3a.uuid), nic(l3b.uuid)];
    const refused = await bus().send('securityGroup', SecurityGroupMessages.addVmNics, { securityGroupUuid: sg.uuid, nics: [n1, off] }, { resourceUuid: sg.uuid });
    expect(refused.success).toBe(false);
    expect(!refused.success && refused.error.details).toContain(off.vmNicUuid);
    const added = await bus().call<any>('securityGroup', SecurityGroupMessages.addVmNics, { securityGroupUuid: sg.uuid, nics: [n1, n2] }, { resourceUuid: sg.uuid });
    expect(added.addedVmNicUuids).toEqual([n1.vmNicUuid, n2.vmNicUuid]);
    expect((await bus().call<any>('securityGroup', SecurityGroupMessages.addVmNics, { securityGroupUuid: sg.uuid, nics: [n1] }, { resourceUuid: sg.uuid })).addedVmNicUuids).toEqual([]);
    expect(membershipLog).toContain(`add:${sg.uuid}:${n1.vmNicUuid},${n2.vmNicUuid}`);
    expect((await c.call('GET', `/security-groups${qs({ q: [`vmNicRefs.vmNicUuid=${n2.vmNicUuid}`] })}`)).inventories).toHaveLength(1);

    const removed = await bus().call<any>('securityGroup', SecurityGroupMessages.removeVmNics, { vmNicUuids: [n1.vmNicUuid, newUuid()] });
    expect(removed.removedVmNicUuids).toEqual([n1.vmNicUuid]);
    await c.call('DELETE', `/security-groups/${sg.uuid}/l3-networks/${l3a.uuid}`);
    expect(membershipLog).toContain(`remove:${sg.uuid}:${n2.vmNicUuid}`);
    expect(await db().selectFrom('vm_nic_security_group_ref').select('uuid').where('securityGroupUuid', '=', sg.uuid).execute()).toEqual([]);
  });

  it('deletes a group with its rules, attachments and members, and rules of other groups naming it; deleting twice succeeds; an L3 deletion detaches', async () => {
    const sg = await newSg('sg-gone');
    const keeper = await newSg('sg-keeper');
    const l3 = await newL3('sg-gone-l3');
    await c.call('POST', `/security-groups/${sg.uuid}/l3-networks/${l3.uuid}`, { params: {} });
    await c.call('POST', `/security-groups/${keeper.uuid}/l3-networks/${l3.uuid}`, { params: {} });
    await bus().call('securityGroup', SecurityGroupMessages.addVmNics, { securityGroupUuid: sg.uuid, nics: [{ vmNicUuid: newUuid(), vmInstanceUuid: newUuid(), l3NetworkUuid: l3.uuid }] }, { resourceUuid: sg.uuid });
    const keeperRule = (await addRules(keeper.uuid, [{ type: 'Ingress', protocol: 'TCP', startPort: 5432, endPort: 5432, remoteSecurityGroupUuid: sg.uuid }])).body.inventory.rules.find((r: any) => r.startPort === 5432);
    await c.call('POST', '/user-tags', { params: { resourceType: 'SecurityGroupVO', resourceUuid: sg.uuid, tag: 'doomed' } });

    await c.call('DELETE', `/security-groups/${sg.uuid}`);
    for (const [table, col] of [['security_group', 'uuid'], ['security_group_rule', 'securityGroupUuid'], ['security_group_l3_ref', 'securityGroupUuid'], ['vm_nic_security_group_ref', 'securityGroupUuid'], ['user_tag', 'resourceUuid']] as const) {
      expect(await db().selectFrom(table).select(col).where(col, '=', sg.uuid).execute(), table).toEqual([]);
    }
    expect(await db().selectFrom('security_group_rule').select('uuid').where('uuid', '=', keeperRule.uuid).execute()).toEqual([]);
    const ev = await waitFor('remote event', () => events.find((e) => e.securityGroupUuid === keeper.uuid && e.reason === 'remoteGroupDeleted'));
    expect(ev.deletedRuleUuids).toEqual([keeperRule.uuid]);
    expect((await c.send('DELETE', `/security-groups/${sg.uuid}`)).status).toBe(200);

    await c.call('DELETE', `/l3-networks/${l3.uuid}`);
    expect(await db().selectFrom('security_group_l3_ref').select('uuid').where('l3NetworkUuid', '=', l3.uuid).execute()).toEqual([]);
    expect((await c.call('GET', `/security-groups/${keeper.uuid}`)).inventories[0].uuid).toBe(keeper.uuid);
  });
});
