import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/** Providers (one row per provider type, created at start-up), the service types each offers, and what is attached to L3 networks. */
export const networkServiceMigration: Migration = {
  id: '0420-network-service',
  async up(db) {
    await withDates(
      db.schema
        .createTable('network_service_provider')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('type', 'varchar(64)', (c) => c.notNull().unique()),
    ).execute();
    await db.schema
      .createTable('network_service_type')
      .addColumn('id', col.uuid, (c) => c.primaryKey())
      .addColumn('networkServiceProviderUuid', col.uuid, (c) => c.notNull())
      .addColumn('type', 'varchar(64)', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('uq_ns_type').on('network_service_type').columns(['networkServiceProviderUuid', 'type']).unique().execute();
    await withDates(
      db.schema
        .createTable('network_service_l3_ref')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('networkServiceProviderUuid', col.uuid, (c) => c.notNull())
        .addColumn('networkServiceType', 'varchar(64)', (c) => c.notNull()),
    ).execute();
    // One provider per service type on an L3 network, as ZStack enforces.
    await db.schema.createIndex('uq_ns_l3_type').on('network_service_l3_ref').columns(['l3NetworkUuid', 'networkServiceType']).unique().execute();
  },
};

/** ZStack's `networkServiceTypes` set is the `networkServiceType` expansion here (`networkServiceType.type=DHCP`). */
export const NetworkServiceProviderInventory = defineInventory({
  name: 'NetworkServiceProviderInventory', className: 'org.zstack.header.network.service.NetworkServiceProviderInventory', table: 'network_service_provider', resourceType: 'NetworkServiceProviderVO',
  fields: { uuid: 'string', name: 'string', description: 'string', type: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: { networkServiceType: { inventory: 'NetworkServiceTypeInventory', foreignKey: 'uuid', expandedKey: 'networkServiceProviderUuid' } },
});

export const NetworkServiceTypeInventory = defineInventory({
  name: 'NetworkServiceTypeInventory', className: 'org.zstack.header.network.service.NetworkServiceTypeInventory', table: 'network_service_type', resourceType: 'NetworkServiceTypeVO',
  primaryKey: 'id',
  fields: { id: 'string', networkServiceProviderUuid: 'string', type: 'string' },
});

export const NetworkServiceL3NetworkRefInventory = defineInventory({
  name: 'NetworkServiceL3NetworkRefInventory', className: 'org.zstack.header.network.service.NetworkServiceL3NetworkRefInventory', table: 'network_service_l3_ref', resourceType: 'NetworkServiceL3NetworkRefVO',
  primaryKey: 'id',
  fields: { id: 'string', l3NetworkUuid: 'string', networkServiceProviderUuid: 'string', networkServiceType: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'l3NetworkUuid', expandedKey: 'uuid' },
    serviceProvider: { inventory: 'NetworkServiceProviderInventory', foreignKey: 'networkServiceProviderUuid', expandedKey: 'uuid' },
  },
});

export const networkServiceInventories = [NetworkServiceProviderInventory, NetworkServiceTypeInventory, NetworkServiceL3NetworkRefInventory];
