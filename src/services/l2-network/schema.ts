import { sql } from 'kysely';
import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory, type InventoryDef } from '../../core/query/inventory.ts';

/**
 * One `l2_network` table holds every L2 type (ZStack joins a table per subtype); the typed query
 * APIs (QueryL2VlanNetwork, …) read views filtered by type, so each inventory still has one table.
 * `virtualNetworkId` is the VLAN id or the VNI; UNIQUE (poolUuid, virtualNetworkId) is what makes a
 * VNI never allocated twice in a pool (NULL pool uuids of non-VXLAN networks never collide).
 */
export const l2NetworkMigration: Migration = {
  id: '0400-l2-network',
  async up(db) {
    await withDates(
      db.schema
        .createTable('l2_network')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('zoneUuid', col.uuid, (c) => c.notNull())
        .addColumn('physicalInterface', 'varchar(1024)')
        .addColumn('type', 'varchar(64)', (c) => c.notNull())
        .addColumn('vSwitchType', 'varchar(64)', (c) => c.notNull())
        .addColumn('virtualNetworkId', col.int)
        .addColumn('isolated', col.bool, (c) => c.notNull().defaultTo(false))
        .addColumn('pvlan', 'varchar(255)')
        .addColumn('poolUuid', col.uuid),
    ).execute();
    await db.schema.createIndex('idx_l2_zone').on('l2_network').column('zoneUuid').execute();
    await db.schema.createIndex('idx_l2_name').on('l2_network').column('name').execute();
    await db.schema.createIndex('idx_l2_create').on('l2_network').columns(['createDate', 'uuid']).execute();
    await db.schema.createIndex('uq_l2_pool_vni').on('l2_network').columns(['poolUuid', 'virtualNetworkId']).unique().execute();

    await withDates(
      db.schema
        .createTable('vni_range')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('l2NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('startVni', col.int, (c) => c.notNull())
        .addColumn('endVni', col.int, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_vni_range_pool').on('vni_range').column('l2NetworkUuid').execute();

    await withDates(
      db.schema
        .createTable('l2_network_cluster_ref')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('l2NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('clusterUuid', col.uuid, (c) => c.notNull())
        .addColumn('l2ProviderType', 'varchar(64)'),
    ).execute();
    await db.schema.createIndex('uq_l2_cluster_ref').on('l2_network_cluster_ref').columns(['l2NetworkUuid', 'clusterUuid']).unique().execute();
    await db.schema.createIndex('idx_l2_cluster_ref_cluster').on('l2_network_cluster_ref').column('clusterUuid').execute();

    for (const [view, type] of [['l2_vlan_network', 'L2VlanNetwork'], ['l2_vxlan_network', 'VxlanNetwork'], ['l2_vxlan_network_pool', 'VxlanNetworkPool']] as const) {
      await sql`CREATE VIEW ${sql.id(view)} AS SELECT * FROM l2_network WHERE type = ${sql.lit(type)}`.execute(db);
    }
  },
};

const L2_FIELDS = {
  uuid: 'string', name: 'string', description: 'string', zoneUuid: 'string', physicalInterface: 'string', type: 'string', vSwitchType: 'string',
  virtualNetworkId: 'number', isolated: 'boolean', pvlan: 'string', createDate: 'date', lastOpDate: 'date',
} satisfies InventoryDef['fields'];

/** ZStack's `attachedClusterUuids` list is the `clusterRef` expansion here (`clusterRef.clusterUuid=…`, `clusterRef.cluster.name=…`). */
const L2_EXPANSIONS = {
  zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
  l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'uuid', expandedKey: 'l2NetworkUuid' },
  clusterRef: { inventory: 'L2NetworkClusterRefInventory', foreignKey: 'uuid', expandedKey: 'l2NetworkUuid' },
};

export const L2NetworkInventory = defineInventory({
  name: 'L2NetworkInventory', className: 'org.zstack.header.network.l2.L2NetworkInventory', table: 'l2_network', resourceType: 'L2NetworkVO',
  fields: L2_FIELDS, expansions: L2_EXPANSIONS,
});

export const L2VlanNetworkInventory = defineInventory({
  name: 'L2VlanNetworkInventory', className: 'org.zstack.header.network.l2.L2VlanNetworkInventory', table: 'l2_vlan_network', resourceType: 'L2NetworkVO',
  fields: { ...L2_FIELDS, vlan: { type: 'number', column: 'virtualNetworkId' } }, expansions: L2_EXPANSIONS,
});

export const L2VxlanNetworkInventory = defineInventory({
  name: 'L2VxlanNetworkInventory', className: 'org.zstack.network.l2.vxlan.vxlanNetwork.L2VxlanNetworkInventory', table: 'l2_vxlan_network', resourceType: 'L2NetworkVO',
  fields: { ...L2_FIELDS, vni: { type: 'number', column: 'virtualNetworkId' }, poolUuid: 'string' },
  expansions: { ...L2_EXPANSIONS, vxlanPool: { inventory: 'L2VxlanNetworkPoolInventory', foreignKey: 'poolUuid', expandedKey: 'uuid' } },
});

export const L2VxlanNetworkPoolInventory = defineInventory({
  name: 'L2VxlanNetworkPoolInventory', className: 'org.zstack.network.l2.vxlan.vxlanNetworkPool.L2VxlanNetworkPoolInventory', table: 'l2_vxlan_network_pool', resourceType: 'L2NetworkVO',
  fields: L2_FIELDS,
  expansions: {
    ...L2_EXPANSIONS,
    vniRange: { inventory: 'VniRangeInventory', foreignKey: 'uuid', expandedKey: 'l2NetworkUuid' },
    l2VxlanNetwork: { inventory: 'L2VxlanNetworkInventory', foreignKey: 'uuid', expandedKey: 'poolUuid' },
  },
});

export const VniRangeInventory = defineInventory({
  name: 'VniRangeInventory', className: 'org.zstack.network.l2.vxlan.vxlanNetworkPool.VniRangeInventory', table: 'vni_range', resourceType: 'VniRangeVO',
  fields: { uuid: 'string', name: 'string', description: 'string', l2NetworkUuid: 'string', startVni: 'number', endVni: 'number', createDate: 'date', lastOpDate: 'date' },
  expansions: { vxlanPool: { inventory: 'L2VxlanNetworkPoolInventory', foreignKey: 'l2NetworkUuid', expandedKey: 'uuid' } },
});

export const L2NetworkClusterRefInventory = defineInventory({
  name: 'L2NetworkClusterRefInventory', className: 'org.zstack.header.network.l2.L2NetworkClusterRefInventory', table: 'l2_network_cluster_ref', resourceType: 'L2NetworkClusterRefVO',
  primaryKey: 'id',
  fields: { id: 'string', l2NetworkUuid: 'string', clusterUuid: 'string', l2ProviderType: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    cluster: { inventory: 'ClusterInventory', foreignKey: 'clusterUuid', expandedKey: 'uuid' },
    l2Network: { inventory: 'L2NetworkInventory', foreignKey: 'l2NetworkUuid', expandedKey: 'uuid' },
  },
  
});

export const l2Inventories = [L2NetworkInventory, L2VlanNetworkInventory, L2VxlanNetworkInventory, L2VxlanNetworkPoolInventory, VniRangeInventory, L2NetworkClusterRefInventory];
