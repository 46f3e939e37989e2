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

/** Users, groups, policies, access keys and failed-login counters (ZStack's IAM model). */
export const identityUsersMigration: Migration = {
  id: '0101-identity-users-groups-policies-keys',
  async up(db) {
    await withDates(
      db.schema
        .createTable('account_user')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('accountUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('passwordHash', 'varchar(255)', (c) => c.notNull())
        .addUniqueConstraint('uq_account_user_name', ['accountUuid', 'name']),
    ).execute();
    await withDates(
      db.schema
        .createTable('user_group')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('accountUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)'),
    ).execute();
    await db.schema.createIndex('idx_user_group_account').on('user_group').column('accountUuid').execute();
    await withDates(
      db.schema
        .createTable('user_group_user_ref')
        .addColumn('groupUuid', col.uuid, (c) => c.notNull())
        .addColumn('userUuid', col.uuid, (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_user_group_user_ref', ['groupUuid', 'userUuid']),
    ).execute();
    await db.schema.createIndex('idx_user_group_user_ref_user').on('user_group_user_ref').column('userUuid').execute();
    await withDates(
      db.schema
        .createTable('policy')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('accountUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('statements', col.json, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_policy_account').on('policy').column('accountUuid').execute();
    for (const [table, key] of [['user_policy_ref', 'userUuid'], ['user_group_policy_ref', 'groupUuid']] as const) {
      await withDates(
        db.schema
          .createTable(table)
          .addColumn('policyUuid', col.uuid, (c) => c.notNull())
          .addColumn(key, col.uuid, (c) => c.notNull())
          .addPrimaryKeyConstraint(`pk_${table}`, [key, 'policyUuid']),
      ).execute();
      await db.schema.createIndex(`idx_${table}_policy`).on(table).column('policyUuid').execute();
    }
    await withDates(
      db.schema
        .createTable('access_key')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('accountUuid', col.uuid, (c) => c.notNull())
        .addColumn('userUuid', col.uuid, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('accessKeyId', 'varchar(128)', (c) => c.notNull().unique())
        // HMAC needs the secret itself; it is never shown after the create reply.
        .addColumn('accessKeySecret', 'varchar(255)', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_access_key_account').on('access_key').column('accountUuid').execute();
    // Signatures seen within the allowed clock skew: a replayed request is refused.
    await db.schema
      .createTable('access_key_nonce')
      .addColumn('signature', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('expireDate', col.date, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('idx_access_key_nonce_expire').on('access_key_nonce').column('expireDate').execute();
    await db.schema
      .createTable('login_failure')
      .addColumn('principal', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('failures', col.int, (c) => c.notNull())
      .addColumn('lockedUntil', col.date, (c) => c.notNull())
      .addColumn('lastOpDate', col.date, (c) => c.notNull())
      .execute();
  },
};

export const UserInventory = defineInventory({
  name: 'UserInventory',
  className: 'org.zstack.header.identity.UserInventory',
  table: 'account_user',
  resourceType: 'UserVO',
  fields: { uuid: 'string', accountUuid: 'string', name: 'string', description: 'string', passwordHash: { type: 'string', hidden: true }, createDate: 'date', lastOpDate: 'date' },
  expansions: { group: { inventory: 'UserGroupUserRefInventory', foreignKey: 'uuid', expandedKey: 'userUuid' } },
});

export const UserGroupInventory = defineInventory({
  name: 'UserGroupInventory',
  className: 'org.zstack.header.identity.UserGroupInventory',
  table: 'user_group',
  resourceType: 'UserGroupVO',
  fields: { uuid: 'string', accountUuid: 'string', name: 'string', description: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: { user: { inventory: 'UserGroupUserRefInventory', foreignKey: 'uuid', expandedKey: 'groupUuid' } },
});

export const UserGroupUserRefInventory = defineInventory({
  name: 'UserGroupUserRefInventory',
  className: 'org.zstack.header.identity.UserGroupUserRefInventory',
  table: 'user_group_user_ref',
  resourceType: 'UserGroupUserRefVO',
  primaryKey: 'userUuid',
  fields: { userUuid: 'string', groupUuid: 'string', createDate: 'date', lastOpDate: 'date' },
});

/** Statements are a list: only the identity service's own replies carry them (docs/decisions: no list fields yet). */
export const PolicyInventory = defineInventory({
  name: 'PolicyInventory',
  className: 'org.zstack.header.identity.PolicyInventory',
  table: 'policy',
  resourceType: 'PolicyVO',
  fields: { uuid: 'string', accountUuid: 'string', name: 'string', description: 'string', statements: { type: 'string', hidden: true }, createDate: 'date', lastOpDate: 'date' },
});

export const AccessKeyInventory = defineInventory({
  name: 'AccessKeyInventory',
  className: 'org.zstack.header.identity.AccessKeyInventory',
  table: 'access_key',
  resourceType: 'AccessKeyVO',
  fields: { uuid: 'string', accountUuid: 'string', userUuid: 'string', description: 'string', AccessKeyID: { type: 'string', column: 'accessKeyId' }, AccessKeySecret: { type: 'string', column: 'accessKeySecret', hidden: true }, state: 'string', createDate: 'date', lastOpDate: 'date' },
});
