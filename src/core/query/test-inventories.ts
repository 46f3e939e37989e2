/**
 * Test-only inventories (zone ← cluster ← host), their tables and a small data set, shared by the
 * query engine's tests. Real services declare their own; these only mimic their shape.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { col, withDates } from '../db/columns.ts';
import { migrate, type Migration } from '../db/migrations.ts';
import type { Database } from '../db/database.ts';
import { defineInventory } from './inventory.ts';
import { InventoryRegistry } from './registry.ts';

/** A deterministic 32-hex uuid per test name, so assertions can name rows. */
export const u = (name: string): string => createHash('md5').update(name).digest('hex');

export const ZoneInv = defineInventory({
  name: 'ZoneInventory', className: 'org.zstack.header.zone.ZoneInventory', table: 'zone', resourceType: 'ZoneVO',
  fields: { uuid: 'string', name: 'string', description: 'string', state: 'string', type: 'string', isDefault: 'boolean', createDate: 'date', lastOpDate: 'date' },
  expansions: { cluster: { inventory: 'ClusterInventory', foreignKey: 'uuid', expandedKey: 'zoneUuid' } },
});

export const ClusterInv = defineInventory({
  name: 'ClusterInventory', className: 'org.zstack.header.cluster.ClusterInventory', table: 'cluster', resourceType: 'ClusterVO',
  fields: { uuid: 'string', name: 'string', description: 'string', state: 'string', hypervisorType: 'string', zoneUuid: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
    host: { inventory: 'HostInventory', foreignKey: 'uuid', expandedKey: 'clusterUuid' },
  },
});

export const HostInv = defineInventory({
  name: 'HostInventory', className: 'org.zstack.header.host.HostInventory', table: 'host', resourceType: 'HostVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', managementIp: 'string', clusterUuid: 'string', zoneUuid: 'string',
    state: 'string', cpuNum: 'number', totalMemorySize: { type: 'number', column: 'totalMemory' },
    password: { type: 'string', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    cluster: { inventory: 'ClusterInventory', foreignKey: 'clusterUuid', expandedKey: 'uuid' },
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
  },
});

export function testRegistry(): InventoryRegistry {
  return new InventoryRegistry().register(ZoneInv).register(ClusterInv).register(HostInv).seal();
}

const migrations: Migration[] = [
  {
    id: '0001-query-test-tables',
    async up(db: Kysely<any>) {
      await withDates(db.schema.createTable('zone').addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull()).addColumn('description', col.text).addColumn('state', col.name)
        .addColumn('type', col.name).addColumn('isDefault', col.bool)).execute();
      await withDates(db.schema.createTable('cluster').addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull()).addColumn('description', col.text).addColumn('state', col.name)
        .addColumn('hypervisorType', col.name).addColumn('zoneUuid', col.uuid)).execute();
      await withDates(db.schema.createTable('host').addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull()).addColumn('description', col.text).addColumn('managementIp', col.name)
        .addColumn('clusterUuid', col.uuid).addColumn('zoneUuid', col.uuid).addColumn('state', col.name)
        .addColumn('cpuNum', col.int).addColumn('totalMemory', col.bigint).addColumn('password', col.name)).execute();
      for (const t of ['system_tag', 'user_tag']) {
        let b = db.schema.createTable(t).addColumn('uuid', col.uuid, (c) => c.primaryKey()).addColumn('resourceUuid', col.uuid, (c) => c.notNull())
          .addColumn('resourceType', col.name, (c) => c.notNull()).addColumn('tag', col.text, (c) => c.notNull());
        if (t === 'system_tag') b = b.addColumn('inherent', col.bool).addColumn('type', col.name);
        await withDates(b).execute();
        await db.schema.createIndex(`idx_${t}_resource`).on(t).columns(['resourceUuid', 'resourceType']).execute();
      }
      for (const [table, column] of [['zone', 'name'], ['zone', 'createDate'], ['cluster', 'zoneUuid'], ['cluster', 'name'], ['host', 'clusterUuid'], ['host', 'zoneUuid'], ['host', 'name'], ['host', 'createDate']]) {
        await db.schema.createIndex(`idx_${table}_${column}`).on(table).column(column).execute();
      }
    },
  },
];

/** 2024-10-17T10:00:00Z plus `h` hours, in epoch ms. */
export const at = (h: number): number => Date.UTC(2024, 9, 17, 10 + h, 0, 0);

/**
 * zones z1 (default, prod tag), z2 (dev tag), z3 (no clusters, a ClusterVO-typed tag that must not count for zones);
 * clusters c1 (z1, KVM, Enabled, system tag), c2 (z1, Disabled), c3 (z2);
 * hosts h1, h2 (c1), h3 (c3), h4 (c2, no description).
 */
export async function seedTestData(d: Database): Promise<void> {
  await migrate(d, migrations);
  const db = d.db;
  const dates = (h: number) => ({ createDate: at(h), lastOpDate: at(h) });
  await db.insertInto('zone').values([
    { uuid: u('z1'), name: 'z1', description: 'first zone', state: 'Enabled', type: 'zstack', isDefault: true, ...dates(0) },
    { uuid: u('z2'), name: 'z2', description: 'Second Zone', state: 'Enabled', type: 'zstack', isDefault: false, ...dates(1) },
    { uuid: u('z3'), name: 'z3', description: null, state: 'Disabled', type: 'zstack', isDefault: false, ...dates(2) },
  ]).execute();
  await db.insertInto('cluster').values([
    { uuid: u('c1'), name: 'c1', description: 'kvm cluster', state: 'Enabled', hypervisorType: 'KVM', zoneUuid: u('z1'), ...dates(3) },
    { uuid: u('c2'), name: 'c2', description: null, state: 'Disabled', hypervisorType: 'KVM', zoneUuid: u('z1'), ...dates(4) },
    { uuid: u('c3'), name: 'c3', description: null, state: 'Enabled', hypervisorType: 'Simulator', zoneUuid: u('z2'), ...dates(5) },
  ]).execute();
  const host = (n: string, c: string, z: string, cpu: number, h: number, description: string | null) => ({
    uuid: u(n), name: n, description, managementIp: `10.0.0.${cpu}`, clusterUuid: u(c), zoneUuid: u(z), state: 'Enabled',
    cpuNum: cpu, totalMemory: cpu * 2 ** 33, password: `secret-${n}`, ...dates(h),
  });
  await db.insertInto('host').values([
    host('h1', 'c1', 'z1', 4, 6, 'one'), host('h2', 'c1', 'z1', 8, 7, 'two'), host('h3', 'c3', 'z2', 16, 8, 'three'), host('h4', 'c2', 'z1', 2, 9, null),
  ]).execute();
  const tag = (table: string, name: string, resource: string, resourceType: string, text: string) =>
    db.insertInto(table).values({ uuid: u(name), resourceUuid: u(resource), resourceType, tag: text, ...dates(0), ...(table === 'system_tag' ? { inherent: false, type: 'System' } : {}) }).execute();
  await tag('user_tag', 't1', 'z1', 'ZoneVO', 'env::prod');
  await tag('user_tag', 't2', 'z2', 'ZoneVO', 'env::dev');
  await tag('user_tag', 't3', 'z3', 'ClusterVO', 'env::prod');
  await tag('system_tag', 't4', 'c1', 'ClusterVO', 'hypervisor::kvm');
  await tag('user_tag', 't5', 'z1', 'ZoneVO', 'owner::alice');
}

/** Creates the test tables only (no rows), for bulk tests. */
export async function createTestTables(d: Database): Promise<void> {
  await migrate(d, migrations);
}
