import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const offeringMigration: Migration = {
  id: '0600-offering',
  async up(db) {
    await withDates(
      db.schema
        .createTable('instance_offering')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('cpuNum', col.int, (c) => c.notNull())
        .addColumn('cpuSpeed', col.int, (c) => c.notNull().defaultTo(0))
        .addColumn('memorySize', col.bigint, (c) => c.notNull())
        .addColumn('reservedMemorySize', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('allocatorStrategy', 'varchar(255)', (c) => c.notNull())
        .addColumn('sortKey', col.int, (c) => c.notNull().defaultTo(0))
        .addColumn('state', 'varchar(32)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_instance_offering_name').on('instance_offering').column('name').execute();
    await db.schema.createIndex('idx_instance_offering_create').on('instance_offering').columns(['createDate', 'uuid']).execute();
    await withDates(
      db.schema
        .createTable('disk_offering')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('diskSize', col.bigint, (c) => c.notNull())
        .addColumn('sortKey', col.int, (c) => c.notNull().defaultTo(0))
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('allocatorStrategy', 'varchar(255)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_disk_offering_name').on('disk_offering').column('name').execute();
    await db.schema.createIndex('idx_disk_offering_create').on('disk_offering').columns(['createDate', 'uuid']).execute();
  },
};

export const InstanceOfferingInventory = defineInventory({
  name: 'InstanceOfferingInventory',
  className: 'org.zstack.header.configuration.InstanceOfferingInventory',
  table: 'instance_offering',
  resourceType: 'InstanceOfferingVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', cpuNum: 'number', cpuSpeed: 'number', memorySize: 'number', reservedMemorySize: 'number',
    type: 'string', allocatorStrategy: 'string', sortKey: 'number', state: 'string', createDate: 'date', lastOpDate: 'date',
  },
});

export const DiskOfferingInventory = defineInventory({
  name: 'DiskOfferingInventory',
  className: 'org.zstack.header.configuration.DiskOfferingInventory',
  table: 'disk_offering',
  resourceType: 'DiskOfferingVO',
  fields: { uuid: 'string', name: 'string', description: 'string', diskSize: 'number', sortKey: 'number', state: 'string', type: 'string', allocatorStrategy: 'string', createDate: 'date', lastOpDate: 'date' },
});
