import { col, type Migration } from '../../core/db/index.ts';

/**
 * ZStack's ImageStoreBackupStorageVO: the storage host's SSH login (kept for redeployments), and where
 * its agent listens, with the token it requires. Never shown in an inventory.
 */
export const imageStoreMigration: Migration = {
  id: '0695-image-store-backup-storage',
  async up(db) {
    await db.schema
      .createTable('image_store_backup_storage')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
      .addColumn('username', col.name, (c) => c.notNull())
      .addColumn('password', col.name)
      .addColumn('sshPrivateKey', col.text)
      .addColumn('sshPort', col.int, (c) => c.notNull())
      .addColumn('agentPort', col.int, (c) => c.notNull())
      .addColumn('agentDataDir', 'varchar(1024)', (c) => c.notNull())
      .addColumn('agentToken', 'varchar(64)', (c) => c.notNull())
      .execute();
  },
};

export interface ImageStoreRow {
  uuid: string;
  hostname: string;
  username: string;
  password: string | null;
  sshPrivateKey: string | null;
  sshPort: number;
  agentPort: number;
  agentDataDir: string;
  agentToken: string;
}
