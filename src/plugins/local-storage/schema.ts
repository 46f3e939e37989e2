import { col, withDates, type Migration } from '../../core/db/index.ts';

/**
 * ZStack's LocalStorageHostRefVO (the disk each host gives a local storage) and
 * LocalStorageResourceRefVO (which host holds which volume or image cache).
 */
export const localStorageMigration: Migration = {
  id: '0710-local-storage',
  async up(db) {
    await withDates(
      db.schema
        .createTable('local_storage_host_ref')
        .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('hostUuid', col.uuid, (c) => c.notNull())
        .addColumn('totalCapacity', col.bigint, (c) => c.notNull())
        .addColumn('availableCapacity', col.bigint, (c) => c.notNull())
        .addColumn('totalPhysicalCapacity', col.bigint, (c) => c.notNull())
        .addColumn('availablePhysicalCapacity', col.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_local_storage_host_ref', ['primaryStorageUuid', 'hostUuid']),
    ).execute();
    await db.schema.createIndex('idx_ls_host_ref_host').on('local_storage_host_ref').column('hostUuid').execute();
    await withDates(
      db.schema
        .createTable('local_storage_resource_ref')
        .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('resourceUuid', col.uuid, (c) => c.notNull())
        .addColumn('hostUuid', col.uuid, (c) => c.notNull())
        .addColumn('resourceType', 'varchar(64)', (c) => c.notNull())
        .addColumn('size', col.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_local_storage_resource_ref', ['primaryStorageUuid', 'resourceUuid', 'hostUuid']),
    ).execute();
  },
};

/**
 * Each host keeps its own copy of an image cache; every copy but one is charged to the storage by this
 * plugin (the primary-storage service's image_cache row charges the other): `charged` is what the copy
 * took from the storage's availableCapacity (0 for volumes, snapshots and the copy the service charged).
 */
export const localStorageCacheChargeMigration: Migration = {
  id: '0711-local-storage-cache-charge',
  async up(db) {
    await db.schema.alterTable('local_storage_resource_ref').addColumn('charged', col.bigint, (c) => c.notNull().defaultTo(0)).execute();
  },
};
