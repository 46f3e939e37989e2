import { col, type Migration } from '../../core/db/index.ts';

/**
 * One row per console token, in the database so that any management node can serve the websocket:
 * only the SHA-256 of the token is kept (a copy of the table opens no console). A token is consumed
 * by setting `usedDate` with a conditional UPDATE, so two nodes can never both accept it.
 */
export const consoleMigration: Migration = {
  id: '0850-console-token',
  async up(db) {
    await db.schema
      .createTable('console_token')
      .addColumn('tokenHash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('vmInstanceUuid', col.uuid, (c) => c.notNull())
      .addColumn('accountUuid', col.uuid)
      .addColumn('createDate', col.date, (c) => c.notNull())
      .addColumn('expiryDate', col.date, (c) => c.notNull())
      .addColumn('usedDate', col.date)
      .execute();
    await db.schema.createIndex('idx_console_token_expiry').on('console_token').column('expiryDate').execute();
  },
};
