import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/**
 * One table for HostVO and HostCapacityVO: ZStack joins them, our inventories map one table, and the
 * conditional capacity updates need no join either. `agentToken` is never shown.
 */
export const hostMigration: Migration = {
  id: '0300-host',
  async up(db) {
    await withDates(
      db.schema
        .createTable('host')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('zoneUuid', col.uuid, (c) => c.notNull())
        .addColumn('clusterUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('managementIp', 'varchar(255)', (c) => c.notNull())
        .addColumn('hypervisorType', 'varchar(32)', (c) => c.notNull())
        .addColumn('architecture', 'varchar(32)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('agentToken', 'varchar(64)', (c) => c.notNull())
        .addColumn('totalCpuCapacity', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('availableCpuCapacity', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('cpuSockets', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cpuNum', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('totalMemoryCapacity', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('availableMemoryCapacity', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('totalPhysicalMemory', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('availablePhysicalMemory', 'bigint', (c) => c.notNull().defaultTo(0)),
    ).execute();
    await db.schema.createIndex('idx_host_cluster').on('host').column('clusterUuid').execute();
    await db.schema.createIndex('idx_host_zone').on('host').column('zoneUuid').execute();
    await db.schema.createIndex('idx_host_ip').on('host').column('managementIp').unique().execute();
    await db.schema.createIndex('idx_host_create').on('host').columns(['createDate', 'uuid']).execute();
  },
};

export const HostInventory = defineInventory({
  name: 'HostInventory',
  className: 'org.zstack.header.host.HostInventory',
  table: 'host',
  resourceType: 'HostVO',
  fields: {
    uuid: 'string', zoneUuid: 'string', clusterUuid: 'string', name: 'string', description: 'string', managementIp: 'string',
    hypervisorType: 'string', architecture: 'string', state: 'string', status: 'string',
    totalCpuCapacity: 'number', availableCpuCapacity: 'number', cpuSockets: 'number', cpuNum: 'number',
    totalMemoryCapacity: 'number', availableMemoryCapacity: 'number', totalPhysicalMemory: 'number', availablePhysicalMemory: 'number',
    agentToken: { type: 'string', hidden: true },
    createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
    cluster: { inventory: 'ClusterInventory', foreignKey: 'clusterUuid', expandedKey: 'uuid' },
  },
});
