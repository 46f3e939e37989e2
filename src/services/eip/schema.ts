import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/** EIPs (ZStack's EipVO): a VIP mapped to a VM NIC's address. Without VM NICs yet, every EIP has none. */
export const eipMigration: Migration = {
  id: '0450-eip',
  async up(db) {
    await withDates(
      db.schema
        .createTable('eip')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('vipUuid', col.uuid, (c) => c.notNull())
        .addColumn('vmNicUuid', col.uuid)
        .addColumn('vipIp', 'varchar(64)', (c) => c.notNull())
        .addColumn('guestIp', 'varchar(64)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull()),
    ).execute();
    // One EIP per VIP: the database backs up the VIP's own check.
    await db.schema.createIndex('uq_eip_vip').on('eip').column('vipUuid').unique().execute();
    await db.schema.createIndex('idx_eip_nic').on('eip').column('vmNicUuid').execute();
    await db.schema.createIndex('idx_eip_create').on('eip').columns(['createDate', 'uuid']).execute();
  },
};

export const EipInventory = defineInventory({
  name: 'EipInventory', className: 'org.zstack.network.service.eip.EipInventory', table: 'eip', resourceType: 'EipVO',
  fields: { uuid: 'string', name: 'string', description: 'string', vipUuid: 'string', vmNicUuid: 'string', vipIp: 'string', guestIp: 'string', state: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: { vip: { inventory: 'VipInventory', foreignKey: 'vipUuid', expandedKey: 'uuid' } },
});
