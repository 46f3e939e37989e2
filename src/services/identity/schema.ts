import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/** ZStack's initial admin account uuid (AccountConstant.INITIAL_SYSTEM_ADMIN_UUID). */
export const ADMIN_ACCOUNT_UUID = '36c27e8ff05c4780bf6d2fa65700f22e';
/** SHA-512 hex of `password`: what ZStack's clients send for the initial admin. */
export const INITIAL_ADMIN_PASSWORD_SHA512 = 'b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb980b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86';

export const identityMigration: Migration = {
  id: '0100-identity-accounts-sessions',
  async up(db) {
    await withDates(
      db.schema
        .createTable('account')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull().unique())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('passwordHash', 'varchar(255)', (c) => c.notNull()),
    ).execute();
    await withDates(
      db.schema
        .createTable('session')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('accountUuid', col.uuid, (c) => c.notNull())
        .addColumn('userUuid', col.uuid, (c) => c.notNull())
        .addColumn('userType', 'varchar(64)', (c) => c.notNull())
        .addColumn('expiredDate', col.date, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_session_account').on('session').column('accountUuid').execute();
    await db.schema.createIndex('idx_session_expired').on('session').column('expiredDate').execute();
  },
};

export const AccountInventory = defineInventory({
  name: 'AccountInventory',
  className: 'org.zstack.header.identity.AccountInventory',
  table: 'account',
  resourceType: 'AccountVO',
  fields: { uuid: 'string', name: 'string', type: 'string', description: 'string', passwordHash: { type: 'string', hidden: true }, createDate: 'date', lastOpDate: 'date' },
});

export const SessionInventory = defineInventory({
  name: 'SessionInventory',
  className: 'org.zstack.header.identity.SessionInventory',
  table: 'session',
  resourceType: 'SessionVO',
  fields: { uuid: 'string', accountUuid: 'string', userUuid: 'string', userType: 'string', expiredDate: 'date', createDate: 'date', lastOpDate: 'date' },
});
