import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

describe.each(testDatabaseKinds())('VM NICs in security groups through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let sg: string;
  const members = async (group: string) => (await c.call('GET', `/security-groups/vm-instances/nics${qs({ q: `securityGroupUuid=${group}` })}`)).inventories.map((r: any) => r.vmNicUuid).sort();

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'sgnic');
    const provider = (await c.call('GET', `/network-services/providers${qs({ q: 'type=SecurityGroup' })}`)).inventories[0].uuid;
    await c.call('POST', `/l3-networks/${w.l3}/network-services`, { params: { networkServices: { [provider]: ['SecurityGroup'] } } });
    sg = (await c.call('POST', '/security-groups', { params: { name: 'web' } })).inventory.uuid;
    await c.call('POST', `/security-groups/${sg}/l3-networks/${w.l3}`, { params: {} });
  });
  afterAll(async () => t?.stop());

  it('adds NICs, queries them, refuses a NIC on an unattached L3 network or an unknown NIC, removes them, and drops them when the NIC is detached', async () => {
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'sg-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3, w.l3b] } })).inventory;
    const onL3 = vm.vmNics.find((n: any) => n.l3NetworkUuid === w.l3).uuid;
    const onL3b = vm.vmNics.find((n: any) => n.l3NetworkUuid === w.l3b).uuid;

    const add = await c.send('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: [onL3] } });
    expect(add.status, add.text).toBe(200);
    expect(await members(sg)).toEqual([onL3]);
    // Adding a member again is a no-op.
    expect((await c.send('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: [onL3] } })).status).toBe(200);
    expect(await members(sg)).toEqual([onL3]);
    const ref = (await c.call('GET', `/security-groups/vm-instances/nics${qs({ q: `vmNicUuid=${onL3}` })}`)).inventories[0];
    expect(ref).toMatchObject({ securityGroupUuid: sg, vmNicUuid: onL3, vmInstanceUuid: vm.uuid });

    const off = await c.send('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: [onL3b] } });
    expect(off.status).toBe(503);
    expect(off.body.error.details).toContain('not attached to the L3 networks');
    const unknown = await c.send('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: ['f'.repeat(32)] } });
    expect(unknown.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect(await members(sg)).toEqual([onL3]);

    const del = await c.send('DELETE', `/security-groups/${sg}/vm-instances/nics${qs({ vmNicUuids: onL3 })}`);
    expect(del.status, del.text).toBe(200);
    expect(await members(sg)).toEqual([]);

    await c.call('POST', `/security-groups/${sg}/vm-instances/nics`, { params: { vmNicUuids: [onL3] } });
    expect(await members(sg)).toEqual([onL3]);
    expect((await c.send('DELETE', `/vm-instances/nics/${onL3}`)).status).toBe(200);
    expect(await members(sg)).toEqual([]);
  });
});
