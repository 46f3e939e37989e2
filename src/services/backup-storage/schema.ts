import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const backupStorageMigration: Migration = {
  id: '0610-backup-storage',
  async up(db) {
    await withDates(
      db.schema
        .createTable('backup_storage')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('url', 'varchar(2048)', (c) => c.notNull())
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('totalCapacity', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('availableCapacity', col.bigint, (c) => c.notNull().defaultTo(0)),
    ).execute();
    await db.schema.createIndex('idx_backup_storage_name').on('backup_storage').column('name').execute();
    await db.schema.createIndex('idx_backup_storage_create').on('backup_storage').columns(['createDate', 'uuid']).execute();
    await withDates(
      db.schema
        .createTable('backup_storage_zone_ref')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('backupStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('zoneUuid', col.uuid, (c) => c.notNull()),
    ).execute();
    // One attachment per (storage, zone): a concurrent double attach fails on the index, not silently.
    await db.schema.createIndex('uq_bs_zone_ref').on('backup_storage_zone_ref').columns(['backupStorageUuid', 'zoneUuid']).unique().execute();
    await db.schema.createIndex('idx_bs_zone_ref_zone').on('backup_storage_zone_ref').column('zoneUuid').execute();
  },
};

/**
 * ZStack's BackupStorageInventory. Its `attachedZoneUuids` list is not a column here: the zones are
 * reachable through the `attachedZoneRefs` expansion (`attachedZoneRefs.zoneUuid=…`, `attachedZoneRefs.zone.name=…`),
 * and the replies of this service's own APIs carry the list.
 */
export const BackupStorageInventory = defineInventory({
  name: 'BackupStorageInventory',
  className: 'org.zstack.header.storage.backup.BackupStorageInventory',
  table: 'backup_storage',
  resourceType: 'BackupStorageVO',
  fields: {
    uuid: 'string', name: 'string', url: 'string', description: 'string', totalCapacity: 'number', availableCapacity: 'number', type: 'string', state: 'string', status: 'string',
    createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    attachedZoneRefs: { inventory: 'BackupStorageZoneRefInventory', foreignKey: 'uuid', expandedKey: 'backupStorageUuid' },
  },
});

export const BackupStorageZoneRefInventory = defineInventory({
  name: 'BackupStorageZoneRefInventory',
  className: 'org.zstack.header.storage.backup.BackupStorageZoneRefInventory',
  table: 'backup_storage_zone_ref',
  resourceType: 'BackupStorageZoneRefVO',
  primaryKey: 'id',
  fields: { id: 'string', backupStorageUuid: 'string', zoneUuid: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
    backupStorage: { inventory: 'BackupStorageInventory', foreignKey: 'backupStorageUuid', expandedKey: 'uuid' },
  },
});
