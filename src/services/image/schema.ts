import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const imageMigration: Migration = {
  id: '0620-image',
  async up(db) {
    await withDates(
      db.schema
        .createTable('image')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('size', col.bigint)
        .addColumn('actualSize', col.bigint)
        .addColumn('md5Sum', 'varchar(255)')
        .addColumn('url', 'varchar(1024)', (c) => c.notNull())
        .addColumn('mediaType', 'varchar(64)', (c) => c.notNull())
        .addColumn('guestOsType', 'varchar(255)')
        .addColumn('type', 'varchar(64)', (c) => c.notNull())
        .addColumn('platform', 'varchar(64)')
        .addColumn('architecture', 'varchar(32)')
        .addColumn('format', 'varchar(64)')
        .addColumn('system', col.bool, (c) => c.notNull().defaultTo(false))
        .addColumn('virtio', col.bool, (c) => c.notNull().defaultTo(true)),
    ).execute();
    await db.schema.createIndex('idx_image_name').on('image').column('name').execute();
    await db.schema.createIndex('idx_image_create').on('image').columns(['createDate', 'uuid']).execute();
    await withDates(
      db.schema
        .createTable('image_backup_storage_ref')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('imageUuid', col.uuid, (c) => c.notNull())
        .addColumn('backupStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('installPath', 'varchar(1024)')
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('exportUrl', 'varchar(1024)')
        .addColumn('actualSize', col.bigint),
    ).execute();
    await db.schema.createIndex('uq_image_bs_ref').on('image_backup_storage_ref').columns(['imageUuid', 'backupStorageUuid']).unique().execute();
    await db.schema.createIndex('idx_image_bs_ref_bs').on('image_backup_storage_ref').column('backupStorageUuid').execute();
  },
};

/**
 * ZStack's ImageInventory. Its `backupStorageRefs` list is the `backupStorageRefs` expansion in
 * queries (`backupStorageRefs.backupStorageUuid=…`, `backupStorageRefs.backupStorage.name=…`);
 * the replies of this service's own APIs carry the list itself.
 */
export const ImageInventory = defineInventory({
  name: 'ImageInventory',
  className: 'org.zstack.header.image.ImageInventory',
  table: 'image',
  resourceType: 'ImageVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', state: 'string', status: 'string', size: 'number', actualSize: 'number', md5Sum: 'string', url: 'string',
    mediaType: 'string', guestOsType: 'string', type: 'string', platform: 'string', architecture: 'string', format: 'string', system: 'boolean', virtio: 'boolean',
    createDate: 'date', lastOpDate: 'date',
  },
  expansions: { backupStorageRefs: { inventory: 'ImageBackupStorageRefInventory', foreignKey: 'uuid', expandedKey: 'imageUuid' } },
});

export const ImageBackupStorageRefInventory = defineInventory({
  name: 'ImageBackupStorageRefInventory',
  className: 'org.zstack.header.image.ImageBackupStorageRefInventory',
  table: 'image_backup_storage_ref',
  resourceType: 'ImageBackupStorageRefVO',
  primaryKey: 'id',
  fields: {
    id: { type: 'string', hidden: true }, imageUuid: 'string', backupStorageUuid: 'string', installPath: 'string', status: 'string', exportUrl: 'string',
    actualSize: { type: 'number', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    image: { inventory: 'ImageInventory', foreignKey: 'imageUuid', expandedKey: 'uuid' },
    backupStorage: { inventory: 'BackupStorageInventory', foreignKey: 'backupStorageUuid', expandedKey: 'uuid' },
  },
});
