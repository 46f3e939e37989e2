import { col, withDates, type Migration } from '../../core/db/index.ts';
import { OWNERSHIP_TABLES } from '../../core/query/access-filter.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/**
 * Who owns each resource (ZStack's AccountResourceRefVO: one owner per resource) and with whom it is
 * shared (SharedResourceVO: one row per receiving account, or one `toPublic` row for everyone).
 * The query engine reads both tables to restrict tenants' reads (core/query/access-filter.ts).
 */
export const ownershipMigration: Migration = {
  id: '0110-ownership-refs-shares',
  async up(db) {
    await withDates(
      db.schema
        .createTable(OWNERSHIP_TABLES.owners)
        .addColumn('resourceUuid', col.uuid, (c) => c.primaryKey())
        .addColumn('accountUuid', col.uuid, (c) => c.notNull())
        .addColumn('resourceType', 'varchar(64)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_account_resource_ref_account').on(OWNERSHIP_TABLES.owners).columns(['accountUuid', 'resourceUuid']).execute();
    await withDates(
      db.schema
        .createTable(OWNERSHIP_TABLES.shares)
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('resourceUuid', col.uuid, (c) => c.notNull())
        .addColumn('resourceType', 'varchar(64)', (c) => c.notNull())
        .addColumn('ownerAccountUuid', col.uuid, (c) => c.notNull())
        // '' for a public share: a unique key cannot rely on NULLs (both databases let NULLs repeat).
        .addColumn('receiverAccountUuid', col.uuid, (c) => c.notNull())
        .addColumn('toPublic', col.bool, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_shared_resource').on(OWNERSHIP_TABLES.shares).columns(['resourceUuid', 'receiverAccountUuid']).unique().execute();
    await db.schema.createIndex('idx_shared_resource_receiver').on(OWNERSHIP_TABLES.shares).columns(['receiverAccountUuid', 'resourceUuid']).execute();
  },
};

export const AccountResourceRefInventory = defineInventory({
  name: 'AccountResourceRefInventory',
  className: 'org.zstack.header.identity.AccountResourceRefInventory',
  table: OWNERSHIP_TABLES.owners,
  resourceType: 'AccountResourceRefVO',
  primaryKey: 'resourceUuid',
  fields: { resourceUuid: 'string', accountUuid: 'string', resourceType: 'string', createDate: 'date', lastOpDate: 'date' },
});

export const SharedResourceInventory = defineInventory({
  name: 'SharedResourceInventory',
  className: 'org.zstack.header.identity.SharedResourceInventory',
  table: OWNERSHIP_TABLES.shares,
  resourceType: 'SharedResourceVO',
  fields: { uuid: 'string', resourceUuid: 'string', resourceType: 'string', ownerAccountUuid: 'string', receiverAccountUuid: 'string', toPublic: 'boolean', createDate: 'date', lastOpDate: 'date' },
});
