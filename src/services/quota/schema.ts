import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/**
 * Quotas (ZStack's QuotaVO: one limit per account and quota name), what each account uses, and what
 * each resource was charged, so a release gives back exactly what was taken, once.
 */
export const quotaMigration: Migration = {
  id: '0120-quota',
  async up(db) {
    await withDates(
      db.schema
        .createTable('quota')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', 'varchar(64)', (c) => c.notNull())
        .addColumn('identityUuid', col.uuid, (c) => c.notNull())
        .addColumn('identityType', 'varchar(64)', (c) => c.notNull())
        .addColumn('value', col.bigint, (c) => c.notNull())
        .addUniqueConstraint('uq_quota_identity_name', ['identityUuid', 'name']),
    ).execute();
    // `used` moves only through conditional updates (`used + n <= limit`): concurrent creates cannot overshoot.
    await db.schema
      .createTable('quota_usage')
      .addColumn('accountUuid', col.uuid, (c) => c.notNull())
      .addColumn('name', 'varchar(64)', (c) => c.notNull())
      .addColumn('used', col.bigint, (c) => c.notNull())
      .addPrimaryKeyConstraint('pk_quota_usage', ['accountUuid', 'name'])
      .execute();
    // The row is the proof of a charge: only whoever deletes it gives the amount back.
    await db.schema
      .createTable('quota_charge')
      .addColumn('resourceUuid', col.uuid, (c) => c.notNull())
      .addColumn('name', 'varchar(64)', (c) => c.notNull())
      .addColumn('accountUuid', col.uuid, (c) => c.notNull())
      .addColumn('amount', col.bigint, (c) => c.notNull())
      .addColumn('createDate', col.date, (c) => c.notNull())
      .addPrimaryKeyConstraint('pk_quota_charge', ['resourceUuid', 'name'])
      .execute();
  },
};

export const QuotaInventory = defineInventory({
  name: 'QuotaInventory',
  className: 'org.zstack.header.identity.QuotaInventory',
  table: 'quota',
  resourceType: 'QuotaVO',
  fields: { uuid: 'string', name: 'string', identityUuid: 'string', identityType: 'string', value: 'number', createDate: 'date', lastOpDate: 'date' },
});
