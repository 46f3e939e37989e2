import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/** VIPs and the network services using them (ZStack's VipVO and VipNetworkServicesRefVO). */
export const vipMigration: Migration = {
  id: '0440-vip',
  async up(db) {
    await withDates(
      db.schema
        .createTable('vip')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('ipRangeUuid', col.uuid, (c) => c.notNull())
        .addColumn('usedIpUuid', col.uuid, (c) => c.notNull())
        .addColumn('ip', 'varchar(64)', (c) => c.notNull())
        .addColumn('gateway', 'varchar(64)', (c) => c.notNull())
        .addColumn('netmask', 'varchar(64)', (c) => c.notNull())
        .addColumn('prefixLen', col.int)
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('serviceProvider', 'varchar(255)')
        .addColumn('useFor', 'varchar(255)')
        .addColumn('system', col.bool, (c) => c.notNull().defaultTo(false)),
    ).execute();
    await db.schema.createIndex('uq_vip_used_ip').on('vip').column('usedIpUuid').unique().execute();
    await db.schema.createIndex('idx_vip_l3').on('vip').column('l3NetworkUuid').execute();
    await db.schema.createIndex('idx_vip_create').on('vip').columns(['createDate', 'uuid']).execute();

    await withDates(
      db.schema
        .createTable('vip_network_services_ref')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('uuid', col.uuid, (c) => c.notNull())
        .addColumn('serviceType', 'varchar(64)', (c) => c.notNull())
        .addColumn('vipUuid', col.uuid, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_vip_service').on('vip_network_services_ref').columns(['vipUuid', 'serviceType', 'uuid']).unique().execute();
  },
};

export const VipInventory = defineInventory({
  name: 'VipInventory', className: 'org.zstack.network.service.vip.VipInventory', table: 'vip', resourceType: 'VipVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', l3NetworkUuid: 'string', ipRangeUuid: 'string', usedIpUuid: 'string', ip: 'string', gateway: 'string',
    netmask: 'string', prefixLen: 'number', state: 'string', serviceProvider: 'string', useFor: 'string', system: 'boolean', createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'l3NetworkUuid', expandedKey: 'uuid' },
    usedIp: { inventory: 'UsedIpInventory', foreignKey: 'usedIpUuid', expandedKey: 'uuid' },
    servicesRefs: { inventory: 'VipNetworkServicesRefInventory', foreignKey: 'uuid', expandedKey: 'vipUuid' },
  },
});

export const VipNetworkServicesRefInventory = defineInventory({
  name: 'VipNetworkServicesRefInventory', className: 'org.zstack.network.service.vip.VipNetworkServicesRefInventory', table: 'vip_network_services_ref', resourceType: 'VipNetworkServicesRefVO',
  primaryKey: 'id',
  fields: { id: { type: 'string', hidden: true }, uuid: 'string', serviceType: 'string', vipUuid: 'string', createDate: 'date', lastOpDate: 'date' },
});

export const vipInventories = [VipInventory, VipNetworkServicesRefInventory];
