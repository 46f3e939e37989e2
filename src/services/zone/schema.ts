import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const zoneMigration: Migration = {
  id: '0200-zone',
  async up(db) {
    await withDates(
      db.schema
        .createTable('zone')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('isDefault', col.bool, (c) => c.notNull().defaultTo(false)),
    ).execute();
    await db.schema.createIndex('idx_zone_name').on('zone').column('name').execute();
    await db.schema.createIndex('idx_zone_create').on('zone').columns(['createDate', 'uuid']).execute();
  },
};

export const ZoneInventory = defineInventory({
  name: 'ZoneInventory',
  className: 'org.zstack.header.zone.ZoneInventory',
  table: 'zone',
  resourceType: 'ZoneVO',
  fields: { uuid: 'string', name: 'string', description: 'string', state: 'string', type: 'string', isDefault: 'boolean', createDate: 'date', lastOpDate: 'date' },
  expansions: { cluster: { inventory: 'ClusterInventory', foreignKey: 'uuid', expandedKey: 'zoneUuid' } },
});
