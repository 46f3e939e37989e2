import { col, type Migration } from '../../core/db/index.ts';

/** The simulated primary storages' own state, in the database so every node (and a restarted one) sees it. */
export const simulatorPrimaryStorageMigration: Migration = {
  id: '0790-simulator-primary-storage',
  async up(db) {
    await db.schema
      .createTable('simulator_primary_storage')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('totalCapacity', col.bigint, (c) => c.notNull())
      .addColumn('availableCapacity', col.bigint, (c) => c.notNull())
      .addColumn('totalPhysicalCapacity', col.bigint, (c) => c.notNull())
      .addColumn('availablePhysicalCapacity', col.bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('simulator_primary_storage_volume')
      .addColumn('primaryStorageUuid', col.uuid, (c) => c.notNull())
      .addColumn('installPath', 'varchar(1024)', (c) => c.notNull())
      .addColumn('volumeUuid', col.uuid, (c) => c.notNull())
      .addColumn('size', col.bigint, (c) => c.notNull())
      .addColumn('baseImageUrl', 'varchar(2048)')
      .addPrimaryKeyConstraint('pk_simulator_primary_storage_volume', ['primaryStorageUuid', 'volumeUuid'])
      .execute();
  },
};
