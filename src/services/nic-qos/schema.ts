import { col, type Migration } from '../../core/db/index.ts';

/**
 * A NIC's bandwidth limits (ZStack keeps them as system tags on the NIC; a table of their own here,
 * read at every VM start). A row exists while at least one direction is limited; bits per second.
 */
export const nicQosMigration: Migration = {
  id: '0860-nic-qos',
  async up(db) {
    await db.schema
      .createTable('vm_nic_qos')
      .addColumn('vmNicUuid', col.uuid, (c) => c.primaryKey())
      .addColumn('inboundBandwidth', col.bigint)
      .addColumn('outboundBandwidth', col.bigint)
      .addColumn('lastOpDate', col.date, (c) => c.notNull())
      .execute();
  },
};
