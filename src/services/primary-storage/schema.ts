import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/** One table for PrimaryStorageVO and PrimaryStorageCapacityVO, as the host service does: conditional capacity updates need no join. */
export const primaryStorageMigration: Migration = {
  id: '0700-primary-storage',
  async up(db) {
    await withDates(
      db.schema
        .createTable('primary_storage')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('zoneUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('url', 'varchar(2048)', (c) => c.notNull())
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('mountPath', 'varchar(2048)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('totalCapacity', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('availableCapacity', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('totalPhysicalCapacity', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('availablePhysicalCapacity', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('systemUsedCapacity', col.bigint, (c) => c.notNull().defaultTo(0))
        // The sum of every reservation (hidden): available = what the backend reports free − this.
        .addColumn('allocatedCapacity', col.bigint, (c) => c.notNull().defaultTo(0)),
    ).execute();
    await db.schema.createIndex('idx_primary_storage_zone').on('primary_storage').column('zoneUuid').execute();
    await db.schema.createIndex('idx_primary_storage_create').on('primary_storage').columns(['createDate', 'uuid']).execute();
    await withDates(
      db.schema
        .createTable('primary_storage_cluster_ref')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('clusterUuid', col.uuid, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_ps_cluster_ref').on('primary_storage_cluster_ref').columns(['primaryStorageUuid', 'clusterUuid']).unique().execute();
    await db.schema.createIndex('idx_ps_cluster_ref_cluster').on('primary_storage_cluster_ref').column('clusterUuid').execute();
    await withDates(
      db.schema
        .createTable('image_cache')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('imageUuid', col.uuid)
        .addColumn('installUrl', 'varchar(2048)', (c) => c.notNull())
        .addColumn('mediaType', 'varchar(64)', (c) => c.notNull())
        .addColumn('size', col.bigint, (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        // What the cache took from the storage's availableCapacity: what deleting it gives back.
        .addColumn('charged', col.bigint, (c) => c.notNull().defaultTo(0)),
    ).execute();
    await db.schema.createIndex('uq_image_cache').on('image_cache').columns(['primaryStorageUuid', 'imageUuid']).unique().execute();
  },
};

/**
 * ZStack's PrimaryStorageInventory. `attachedClusterUuids` is not a column: the clusters are reachable
 * through the `attachedClusterRefs` expansion (`attachedClusterRefs.clusterUuid=…`), and this service's
 * own replies carry the list.
 */
export const PrimaryStorageInventory = defineInventory({
  name: 'PrimaryStorageInventory',
  className: 'org.zstack.header.storage.primary.PrimaryStorageInventory',
  table: 'primary_storage',
  resourceType: 'PrimaryStorageVO',
  fields: {
    uuid: 'string', zoneUuid: 'string', name: 'string', url: 'string', description: 'string',
    totalCapacity: 'number', availableCapacity: 'number', totalPhysicalCapacity: 'number', availablePhysicalCapacity: 'number', systemUsedCapacity: 'number',
    type: 'string', state: 'string', status: 'string', mountPath: 'string', allocatedCapacity: { type: 'number', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
    attachedClusterRefs: { inventory: 'PrimaryStorageClusterRefInventory', foreignKey: 'uuid', expandedKey: 'primaryStorageUuid' },
    imageCaches: { inventory: 'ImageCacheInventory', foreignKey: 'uuid', expandedKey: 'primaryStorageUuid' },
  },
});

export const PrimaryStorageClusterRefInventory = defineInventory({
  name: 'PrimaryStorageClusterRefInventory',
  className: 'org.zstack.header.storage.primary.PrimaryStorageClusterRefInventory',
  table: 'primary_storage_cluster_ref',
  resourceType: 'PrimaryStorageClusterRefVO',
  primaryKey: 'id',
  fields: { id: 'string', clusterUuid: 'string', primaryStorageUuid: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    cluster: { inventory: 'ClusterInventory', foreignKey: 'clusterUuid', expandedKey: 'uuid' },
    primaryStorage: { inventory: 'PrimaryStorageInventory', foreignKey: 'primaryStorageUuid', expandedKey: 'uuid' },
  },
});

export const ImageCacheInventory = defineInventory({
  name: 'ImageCacheInventory',
  className: 'org.zstack.header.storage.primary.ImageCacheInventory',
  table: 'image_cache',
  resourceType: 'ImageCacheVO',
  primaryKey: 'id',
  fields: {
    id: 'string', primaryStorageUuid: 'string', imageUuid: 'string', installUrl: 'string', mediaType: 'string', size: 'number', state: 'string',
    charged: { type: 'number', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    primaryStorage: { inventory: 'PrimaryStorageInventory', foreignKey: 'primaryStorageUuid', expandedKey: 'uuid' },
    image: { inventory: 'ImageInventory', foreignKey: 'imageUuid', expandedKey: 'uuid' },
  },
});
