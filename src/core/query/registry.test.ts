import { describe, expect, it } from 'vitest';
import { defineInventory } from './inventory.ts';
import { InventoryRegistry } from './registry.ts';
import { ClusterInv, HostInv, ZoneInv } from './test-inventories.ts';
import { buildListSchema, buildNestedSchema, buildQueryReplySchema } from './schema-map.ts';

const base = { className: 'x.Y', resourceType: 'YVO', fields: { uuid: 'string' as const, zoneUuid: 'string' as const } };

describe('InventoryRegistry', () => {
  it('finds inventories by class name and by ZQL entity, case-insensitively', () => {
    const r = new InventoryRegistry().register(ZoneInv).register(ClusterInv).register(HostInv).seal();
    expect(r.find('ClusterInventory')).toBe(ClusterInv);
    expect(r.byEntity('cluster')).toBe(ClusterInv);
    expect(r.byEntity('Cluster')).toBe(ClusterInv);
    expect(r.byEntity('nothing')).toBeUndefined();
    expect(r.entities()).toEqual(['cluster', 'host', 'zone']);
  });

  it('refuses duplicate names and registration after seal', () => {
    const lone = defineInventory({ ...base, name: 'LoneInventory', table: 'lone' });
    const r = new InventoryRegistry().register(lone);
    expect(() => r.register(lone)).toThrow(/already registered/);
    expect(() => r.register(defineInventory({ ...base, name: 'Lone', table: 'lone2' }))).toThrow(/entity 'lone', already used by LoneInventory/);
    r.seal();
    expect(() => r.register(ClusterInv)).toThrow(/sealed/);
  });

  it('fails seal() when an expansion points at an unregistered inventory or a missing key', () => {
    const bad = defineInventory({ ...base, name: 'BadInventory', table: 'bad', expansions: {
      zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
      ghost: { inventory: 'GhostInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
      wrongKey: { inventory: 'ZoneInventory', foreignKey: 'nope', expandedKey: 'alsoNope' },
    } });
    const r = new InventoryRegistry().register(bad);
    expect(() => r.seal()).toThrow(/ZoneInventory, which is not registered/);
    const r2 = new InventoryRegistry().register(bad).register(ZoneInv);
    expect(() => r2.seal()).toThrow(/GhostInventory[\s\S]*foreignKey nope[\s\S]*expandedKey alsoNope/);
    expect(r2.sealed).toBe(false);
  });

  it('fails seal() on a defaultSort naming no visible field', () => {
    const bad = defineInventory({ ...base, name: 'SortInventory', table: 's', defaultSort: '-createDate' });
    expect(() => new InventoryRegistry().register(bad).seal()).toThrow(/defaultSort field createDate/);
  });
});

describe('schema map', () => {
  it('names every element, parents before their nested lists', () => {
    const vms = [{ uuid: 'a', vmNics: [{ ip: '1', usedIps: [{}] }, { ip: '2' }] }, { uuid: 'b' }];
    const schema = buildListSchema('inventories', vms, 'org.zstack.header.vm.VmInstanceInventory', {
      vmNics: { className: 'org.zstack.header.vm.VmNicInventory', nested: { usedIps: 'org.zstack.header.network.l3.UsedIpInventory' } },
    });
    expect(Object.entries(schema)).toEqual([
      ['inventories[0]', 'org.zstack.header.vm.VmInstanceInventory'],
      ['inventories[0].vmNics[0]', 'org.zstack.header.vm.VmNicInventory'],
      ['inventories[0].vmNics[0].usedIps[0]', 'org.zstack.header.network.l3.UsedIpInventory'],
      ['inventories[0].vmNics[1]', 'org.zstack.header.vm.VmNicInventory'],
      ['inventories[1]', 'org.zstack.header.vm.VmInstanceInventory'],
    ]);
  });

  it('gives {} (never null) for count replies and keys for nested lists of a single inventory', () => {
    expect(buildQueryReplySchema(undefined, ZoneInv.className)).toEqual({});
    expect(buildQueryReplySchema([{}, {}], ZoneInv.className)).toEqual({ 'inventories[0]': ZoneInv.className, 'inventories[1]': ZoneInv.className });
    expect(buildNestedSchema('inventory', { vmNics: [{}] }, { vmNics: 'N' })).toEqual({ 'inventory.vmNics[0]': 'N' });
  });
});
