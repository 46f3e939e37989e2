import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/**
 * L3 networks, their IP ranges, DNS servers and used IPs. `used_ip` has UNIQUE (l3NetworkUuid,
 * ipInLong): the database, not a lock, guarantees that one address is never given twice.
 */
export const l3NetworkMigration: Migration = {
  id: '0410-l3-network',
  async up(db) {
    await withDates(
      db.schema
        .createTable('l3_network')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('type', 'varchar(64)', (c) => c.notNull())
        .addColumn('zoneUuid', col.uuid, (c) => c.notNull())
        .addColumn('l2NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('dnsDomain', 'varchar(255)')
        .addColumn('system', col.bool, (c) => c.notNull().defaultTo(false))
        .addColumn('category', 'varchar(32)', (c) => c.notNull())
        .addColumn('ipVersion', col.int, (c) => c.notNull())
        .addColumn('enableIPAM', col.bool, (c) => c.notNull().defaultTo(true))
        .addColumn('isolated', col.bool, (c) => c.notNull().defaultTo(false)),
    ).execute();
    await db.schema.createIndex('idx_l3_l2').on('l3_network').column('l2NetworkUuid').execute();
    await db.schema.createIndex('idx_l3_zone').on('l3_network').column('zoneUuid').execute();
    await db.schema.createIndex('idx_l3_create').on('l3_network').columns(['createDate', 'uuid']).execute();

    await withDates(
      db.schema
        .createTable('ip_range')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('startIp', 'varchar(64)', (c) => c.notNull())
        .addColumn('endIp', 'varchar(64)', (c) => c.notNull())
        .addColumn('netmask', 'varchar(64)', (c) => c.notNull())
        .addColumn('gateway', 'varchar(64)', (c) => c.notNull())
        .addColumn('networkCidr', 'varchar(64)', (c) => c.notNull())
        .addColumn('ipVersion', col.int, (c) => c.notNull())
        .addColumn('addressMode', 'varchar(64)')
        .addColumn('prefixLen', col.int, (c) => c.notNull())
        .addColumn('ipRangeType', 'varchar(32)', (c) => c.notNull())
        .addColumn('startIpInLong', col.bigint, (c) => c.notNull())
        .addColumn('endIpInLong', col.bigint, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_ip_range_l3').on('ip_range').column('l3NetworkUuid').execute();

    await withDates(
      db.schema
        .createTable('used_ip')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('ipRangeUuid', col.uuid, (c) => c.notNull())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('ipVersion', col.int, (c) => c.notNull())
        .addColumn('ip', 'varchar(64)', (c) => c.notNull())
        .addColumn('netmask', 'varchar(64)', (c) => c.notNull())
        .addColumn('gateway', 'varchar(64)', (c) => c.notNull())
        .addColumn('usedFor', 'varchar(64)')
        .addColumn('metaData', 'varchar(1024)')
        .addColumn('ipInLong', col.bigint, (c) => c.notNull())
        .addColumn('vmNicUuid', col.uuid),
    ).execute();
    await db.schema.createIndex('uq_used_ip_l3_ip').on('used_ip').columns(['l3NetworkUuid', 'ipInLong']).unique().execute();
    await db.schema.createIndex('idx_used_ip_range').on('used_ip').columns(['ipRangeUuid', 'ipInLong']).execute();
    await db.schema.createIndex('idx_used_ip_nic').on('used_ip').column('vmNicUuid').execute();

    await withDates(
      db.schema
        .createTable('l3_network_dns')
        .addColumn('id', col.uuid, (c) => c.primaryKey())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('dns', 'varchar(255)', (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_l3_dns').on('l3_network_dns').columns(['l3NetworkUuid', 'dns']).unique().execute();
  },
};

/**
 * ZStack's list fields (`dns`, `ipRanges`, `networkServices`) are expansions here:
 * `dns.dns=8.8.8.8`, `ipRanges.startIp=…`, `serviceProviderRef.networkServiceType=DHCP`.
 */
export const L3NetworkInventory = defineInventory({
  name: 'L3NetworkInventory', className: 'org.zstack.header.network.l3.L3NetworkInventory', table: 'l3_network', resourceType: 'L3NetworkVO',
  fields: {
    uuid: 'string', name: 'string', description: 'string', type: 'string', zoneUuid: 'string', l2NetworkUuid: 'string', state: 'string', dnsDomain: 'string',
    system: 'boolean', category: 'string', ipVersion: 'number', enableIPAM: 'boolean', isolated: 'boolean', createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    zone: { inventory: 'ZoneInventory', foreignKey: 'zoneUuid', expandedKey: 'uuid' },
    l2Network: { inventory: 'L2NetworkInventory', foreignKey: 'l2NetworkUuid', expandedKey: 'uuid' },
    ipRanges: { inventory: 'IpRangeInventory', foreignKey: 'uuid', expandedKey: 'l3NetworkUuid' },
    usedIp: { inventory: 'UsedIpInventory', foreignKey: 'uuid', expandedKey: 'l3NetworkUuid' },
    dns: { inventory: 'L3NetworkDnsInventory', foreignKey: 'uuid', expandedKey: 'l3NetworkUuid' },
    serviceProviderRef: { inventory: 'NetworkServiceL3NetworkRefInventory', foreignKey: 'uuid', expandedKey: 'l3NetworkUuid' },
  },
});

export const IpRangeInventory = defineInventory({
  name: 'IpRangeInventory', className: 'org.zstack.header.network.l3.IpRangeInventory', table: 'ip_range', resourceType: 'IpRangeVO',
  fields: {
    uuid: 'string', l3NetworkUuid: 'string', name: 'string', description: 'string', startIp: 'string', endIp: 'string', netmask: 'string', gateway: 'string',
    networkCidr: 'string', ipVersion: 'number', addressMode: 'string', prefixLen: 'number', ipRangeType: 'string',
    startIpInLong: { type: 'number', hidden: true }, endIpInLong: { type: 'number', hidden: true }, createDate: 'date', lastOpDate: 'date',
  },
  expansions: { l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'l3NetworkUuid', expandedKey: 'uuid' } },
});

export const UsedIpInventory = defineInventory({
  name: 'UsedIpInventory', className: 'org.zstack.header.network.l3.UsedIpInventory', table: 'used_ip', resourceType: 'UsedIpVO',
  fields: {
    uuid: 'string', ipRangeUuid: 'string', l3NetworkUuid: 'string', ipVersion: 'number', ip: 'string', netmask: 'string', gateway: 'string', usedFor: 'string',
    metaData: 'string', ipInLong: 'number', vmNicUuid: 'string', createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'l3NetworkUuid', expandedKey: 'uuid' },
    ipRange: { inventory: 'IpRangeInventory', foreignKey: 'ipRangeUuid', expandedKey: 'uuid' },
  },
});

export const L3NetworkDnsInventory = defineInventory({
  name: 'L3NetworkDnsInventory', className: 'org.zstack.header.network.l3.L3NetworkDnsInventory', table: 'l3_network_dns', resourceType: 'L3NetworkDnsVO',
  primaryKey: 'id',
  fields: { id: { type: 'string', hidden: true }, l3NetworkUuid: 'string', dns: 'string', createDate: 'date', lastOpDate: 'date' },
});

export const l3Inventories = [L3NetworkInventory, IpRangeInventory, UsedIpInventory, L3NetworkDnsInventory];
