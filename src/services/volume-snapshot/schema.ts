import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/**
 * ZStack's VolumeSnapshotTreeVO and VolumeSnapshotVO, and the simulator backend's own record of the
 * bits it holds (so that tests can see nothing leaked).
 */
export const volumeSnapshotMigration: Migration = {
  id: '0760-volume-snapshot',
  async up(db) {
    await withDates(
      db.schema
        .createTable('volume_snapshot_tree')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('volumeUuid', col.uuid, (c) => c.notNull())
        .addColumn('current', col.bool, (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_vs_tree_volume').on('volume_snapshot_tree').column('volumeUuid').execute();
    await withDates(
      db.schema
        .createTable('volume_snapshot')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('volumeUuid', col.uuid, (c) => c.notNull())
        .addColumn('treeUuid', col.uuid, (c) => c.notNull())
        .addColumn('parentUuid', col.uuid)
        .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
        .addColumn('primaryStorageInstallPath', 'varchar(2048)', (c) => c.notNull())
        .addColumn('volumeType', 'varchar(32)', (c) => c.notNull())
        .addColumn('format', 'varchar(32)', (c) => c.notNull())
        .addColumn('latest', col.bool, (c) => c.notNull())
        .addColumn('size', col.bigint, (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('distance', col.int, (c) => c.notNull())
        // What the snapshot holds of its primary storage's availableCapacity: what deleting it gives back.
        .addColumn('charged', col.bigint, (c) => c.notNull().defaultTo(0)),
    ).execute();
    await db.schema.createIndex('idx_vs_volume').on('volume_snapshot').column('volumeUuid').execute();
    await db.schema.createIndex('idx_vs_tree').on('volume_snapshot').column('treeUuid').execute();
    await db.schema.createIndex('idx_vs_create').on('volume_snapshot').columns(['createDate', 'uuid']).execute();
    await db.schema
      .createTable('simulator_volume_snapshot_bits')
      .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
      .addColumn('installPath', 'varchar(512)', (c) => c.notNull())
      .addColumn('ownerUuid', col.uuid, (c) => c.notNull())
      .addColumn('size', col.bigint, (c) => c.notNull())
      .addColumn('basePath', 'varchar(512)')
      .addPrimaryKeyConstraint('pk_sim_vs_bits', ['primaryStorageUuid', 'installPath'])
      .execute();
  },
};

export const VolumeSnapshotInventory = defineInventory({
  name: 'VolumeSnapshotInventory',
  className: 'org.zstack.header.storage.snapshot.VolumeSnapshotInventory',
  table: 'volume_snapshot',
  resourceType: 'VolumeSnapshotVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', type: 'string', volumeUuid: 'string', treeUuid: 'string', parentUuid: 'string',
    primaryStorageUuid: 'string', primaryStorageInstallPath: 'string', volumeType: 'string', format: 'string', latest: 'boolean', size: 'number',
    state: 'string', status: 'string', distance: 'number', charged: { type: 'number', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    volume: { inventory: 'VolumeInventory', foreignKey: 'volumeUuid', expandedKey: 'uuid' },
    tree: { inventory: 'VolumeSnapshotTreeInventory', foreignKey: 'treeUuid', expandedKey: 'uuid' },
    primaryStorage: { inventory: 'PrimaryStorageInventory', foreignKey: 'primaryStorageUuid', expandedKey: 'uuid' },
    parent: { inventory: 'VolumeSnapshotInventory', foreignKey: 'parentUuid', expandedKey: 'uuid' },
  },
});

export const VolumeSnapshotTreeInventory = defineInventory({
  name: 'VolumeSnapshotTreeInventory',
  className: 'org.zstack.header.storage.snapshot.VolumeSnapshotTreeInventory',
  table: 'volume_snapshot_tree',
  resourceType: 'VolumeSnapshotTreeVO',
  fields: { uuid: 'string', volumeUuid: 'string', current: 'boolean', status: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    volume: { inventory: 'VolumeInventory', foreignKey: 'volumeUuid', expandedKey: 'uuid' },
    snapshots: { inventory: 'VolumeSnapshotInventory', foreignKey: 'uuid', expandedKey: 'treeUuid' },
  },
});
