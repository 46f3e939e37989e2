import { col, type Migration } from '../../core/db/index.ts';

/** The simulated storages' own state, in the database so every node (and a restarted one) sees it. */
export const simulatorBackupStorageMigration: Migration = {
  id: '0690-simulator-backup-storage',
  async up(db) {
    await db.schema
      .createTable('simulator_backup_storage')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('totalCapacity', col.bigint, (c) => c.notNull())
      .addColumn('availableCapacity', col.bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('simulator_backup_storage_image')
      .addColumn('backupStorageUuid', col.uuid, (c) => c.notNull())
      .addColumn('imageUuid', col.uuid, (c) => c.notNull())
      .addColumn('installPath', 'varchar(1024)', (c) => c.notNull())
      .addColumn('size', col.bigint, (c) => c.notNull())
      .addColumn('actualSize', col.bigint, (c) => c.notNull())
      .addColumn('md5sum', 'varchar(32)', (c) => c.notNull())
      .addColumn('createDate', col.date, (c) => c.notNull())
      .addPrimaryKeyConstraint('pk_simulator_backup_storage_image', ['backupStorageUuid', 'imageUuid'])
      .execute();
  },
};
