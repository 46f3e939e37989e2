import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const clusterMigration: Migration = {
  id: '0210-cluster',
  async up(db) {
    await withDates(
      db.schema
        .createTable('cluster')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('zoneUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('hypervisorType', 'varchar(32)', (c) => c.notNull())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('architecture', 'varchar(32)'),
    ).execute();
    await db.schema.createIndex('idx_cluster_zone').on('cluster').column('zoneUuid').execute();
    await db.schema.createIndex('idx_cluster_name').on('cluster').column('name').execute();
    await db.schema.createIndex('idx_cluster_create').on('cluster').columns(['createDate', 'uuid']).execute();
  },
};

export const ClusterInventory = defineInventory({
  name: 'ClusterInventory',
  className: 'org.zstack.header.cluster.ClusterInventory',
  table: 'cluster',
  resourceType: 'ClusterVO',
  fields: { uuid: 'string', name: 'string', description: 'string', state: 'string', hypervisorType: 'string', zoneUuid: 'string', type: 'string', architecture: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: { zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' } },
});
