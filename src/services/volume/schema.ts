import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const volumeMigration: Migration = {
  id: '0750-volume',
  async up(db) {
    await withDates(
      db.schema
        .createTable('volume')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('primaryStorageUuid', col.uuid)
        .addColumn('vmInstanceUuid', col.uuid)
        .addColumn('diskOfferingUuid', col.uuid)
        .addColumn('rootImageUuid', col.uuid)
        .addColumn('installPath', 'varchar(2048)')
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('format', 'varchar(32)')
        .addColumn('size', col.bigint, (c) => c.notNull())
        .addColumn('actualSize', col.bigint)
        .addColumn('deviceId', col.int)
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('isShareable', col.bool, (c) => c.notNull().defaultTo(false))
        // What the volume took from its primary storage's availableCapacity: what expunging it gives back, exactly.
        .addColumn('charged', col.bigint, (c) => c.notNull().defaultTo(0)),
    ).execute();
    await db.schema.createIndex('idx_volume_ps').on('volume').column('primaryStorageUuid').execute();
    await db.schema.createIndex('idx_volume_vm').on('volume').column('vmInstanceUuid').execute();
    await db.schema.createIndex('idx_volume_create').on('volume').columns(['createDate', 'uuid']).execute();
  },
};

/** ZStack's VolumeInventory; `vmInstance` becomes an expansion once VMs exist. */
export const VolumeInventory = defineInventory({
  name: 'VolumeInventory',
  className: 'org.zstack.header.volume.VolumeInventory',
  table: 'volume',
  resourceType: 'VolumeVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', primaryStorageUuid: 'string', vmInstanceUuid: 'string', diskOfferingUuid: 'string', rootImageUuid: 'string',
    installPath: 'string', type: 'string', format: 'string', size: 'number', actualSize: 'number', deviceId: 'number', state: 'string', status: 'string', isShareable: 'boolean',
    charged: { type: 'number', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    primaryStorage: { inventory: 'PrimaryStorageInventory', foreignKey: 'primaryStorageUuid', expandedKey: 'uuid' },
    diskOffering: { inventory: 'DiskOfferingInventory', foreignKey: 'diskOfferingUuid', expandedKey: 'uuid' },
    image: { inventory: 'ImageInventory', foreignKey: 'rootImageUuid', expandedKey: 'uuid' },
  },
});
