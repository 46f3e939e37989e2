import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const vmMigration: Migration = {
  id: '0800-vm',
  async up(db) {
    await withDates(
      db.schema
        .createTable('vm_instance')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('zoneUuid', col.uuid)
        .addColumn('clusterUuid', col.uuid)
        .addColumn('hostUuid', col.uuid)
        .addColumn('lastHostUuid', col.uuid)
        .addColumn('imageUuid', col.uuid)
        .addColumn('instanceOfferingUuid', col.uuid)
        .addColumn('rootVolumeUuid', col.uuid)
        .addColumn('defaultL3NetworkUuid', col.uuid)
        .addColumn('type', 'varchar(64)', (c) => c.notNull())
        .addColumn('hypervisorType', 'varchar(64)')
        .addColumn('memorySize', col.bigint, (c) => c.notNull())
        .addColumn('cpuNum', col.int, (c) => c.notNull())
        .addColumn('cpuSpeed', col.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('allocatorStrategy', 'varchar(64)')
        .addColumn('platform', 'varchar(64)')
        .addColumn('architecture', 'varchar(32)')
        .addColumn('guestOsType', 'varchar(64)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_vm_host').on('vm_instance').column('hostUuid').execute();
    await db.schema.createIndex('idx_vm_cluster').on('vm_instance').column('clusterUuid').execute();
    await db.schema.createIndex('idx_vm_zone').on('vm_instance').column('zoneUuid').execute();
    await db.schema.createIndex('idx_vm_create').on('vm_instance').columns(['createDate', 'uuid']).execute();

    await withDates(
      db.schema
        .createTable('vm_nic')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('vmInstanceUuid', col.uuid, (c) => c.notNull())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('usedIpUuid', col.uuid)
        .addColumn('ip', 'varchar(128)')
        .addColumn('mac', 'varchar(17)', (c) => c.notNull())
        .addColumn('netmask', 'varchar(128)')
        .addColumn('gateway', 'varchar(128)')
        .addColumn('deviceId', col.int, (c) => c.notNull())
        .addColumn('type', 'varchar(64)', (c) => c.notNull())
        .addColumn('internalName', 'varchar(128)', (c) => c.notNull()),
    ).execute();
    // A MAC is unique across the whole cloud: the index is what makes a concurrent duplicate impossible.
    await db.schema.createIndex('uq_vm_nic_mac').on('vm_nic').column('mac').unique().execute();
    await db.schema.createIndex('idx_vm_nic_vm').on('vm_nic').column('vmInstanceUuid').execute();
    await db.schema.createIndex('idx_vm_nic_l3').on('vm_nic').column('l3NetworkUuid').execute();
  },
};

/** ZStack's VmInstanceInventory; `vmNics` and `allVolumes` are lists in API replies and expansions in queries. */
export const VmInstanceInventory = defineInventory({
  name: 'VmInstanceInventory',
  className: 'org.zstack.header.vm.VmInstanceInventory',
  table: 'vm_instance',
  resourceType: 'VmInstanceVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', zoneUuid: 'string', clusterUuid: 'string', hostUuid: 'string', lastHostUuid: 'string',
    imageUuid: 'string', instanceOfferingUuid: 'string', rootVolumeUuid: 'string', defaultL3NetworkUuid: 'string', type: 'string', hypervisorType: 'string',
    memorySize: 'number', cpuNum: 'number', cpuSpeed: 'number', allocatorStrategy: 'string', platform: 'string', architecture: 'string', guestOsType: 'string',
    state: 'string', createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
    cluster: { inventory: 'ClusterInventory', foreignKey: 'clusterUuid', expandedKey: 'uuid' },
    host: { inventory: 'HostInventory', foreignKey: 'hostUuid', expandedKey: 'uuid' },
    image: { inventory: 'ImageInventory', foreignKey: 'imageUuid', expandedKey: 'uuid' },
    instanceOffering: { inventory: 'InstanceOfferingInventory', foreignKey: 'instanceOfferingUuid', expandedKey: 'uuid' },
    rootVolume: { inventory: 'VolumeInventory', foreignKey: 'rootVolumeUuid', expandedKey: 'uuid' },
    allVolumes: { inventory: 'VolumeInventory', foreignKey: 'uuid', expandedKey: 'vmInstanceUuid' },
    vmNics: { inventory: 'VmNicInventory', foreignKey: 'uuid', expandedKey: 'vmInstanceUuid' },
  },
});

/** ZStack's VmNicInventory. */
export const VmNicInventory = defineInventory({
  name: 'VmNicInventory',
  className: 'org.zstack.header.vm.VmNicInventory',
  table: 'vm_nic',
  resourceType: 'VmNicVO',
  fields: {
    uuid: 'string', vmInstanceUuid: 'string', l3NetworkUuid: 'string', ip: 'string', mac: 'string', netmask: 'string', gateway: 'string',
    deviceId: 'number', type: 'string', internalName: 'string',
    // Not in ZStack's inventory: the used-ip row expunging releases.
    usedIpUuid: { type: 'string', hidden: true },
    createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    vmInstance: { inventory: 'VmInstanceInventory', foreignKey: 'vmInstanceUuid', expandedKey: 'uuid' },
    l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'l3NetworkUuid', expandedKey: 'uuid' },
  },
});
