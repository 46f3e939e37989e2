import { col, withDates, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/**
 * Security groups, their rules, their L3 attachments and their member NICs. Rule changes of one group
 * run in that group's queue, so duplicate checks need no lock; the refs carry UNIQUE indexes anyway.
 */
export const securityGroupMigration: Migration = {
  id: '0430-security-group',
  async up(db) {
    await withDates(
      db.schema
        .createTable('security_group')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('name', col.name, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('ipVersion', col.int, (c) => c.notNull())
        .addColumn('internalId', col.bigint, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_sg_internal_id').on('security_group').column('internalId').unique().execute();
    await db.schema.createIndex('idx_sg_create').on('security_group').columns(['createDate', 'uuid']).execute();

    await withDates(
      db.schema
        .createTable('security_group_rule')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('securityGroupUuid', col.uuid, (c) => c.notNull())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('ipVersion', col.int, (c) => c.notNull())
        .addColumn('protocol', 'varchar(32)', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('priority', col.int, (c) => c.notNull())
        .addColumn('description', 'varchar(2048)')
        .addColumn('action', 'varchar(32)', (c) => c.notNull())
        .addColumn('remoteSecurityGroupUuid', col.uuid)
        .addColumn('allowedCidr', 'varchar(64)', (c) => c.notNull())
        .addColumn('startPort', col.int, (c) => c.notNull())
        .addColumn('endPort', col.int, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('idx_sg_rule_sg').on('security_group_rule').column('securityGroupUuid').execute();
    await db.schema.createIndex('idx_sg_rule_remote').on('security_group_rule').column('remoteSecurityGroupUuid').execute();

    await withDates(
      db.schema
        .createTable('security_group_l3_ref')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('securityGroupUuid', col.uuid, (c) => c.notNull())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_sg_l3').on('security_group_l3_ref').columns(['securityGroupUuid', 'l3NetworkUuid']).unique().execute();
    await db.schema.createIndex('idx_sg_l3_l3').on('security_group_l3_ref').column('l3NetworkUuid').execute();

    await withDates(
      db.schema
        .createTable('vm_nic_security_group_ref')
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('securityGroupUuid', col.uuid, (c) => c.notNull())
        .addColumn('vmNicUuid', col.uuid, (c) => c.notNull())
        .addColumn('vmInstanceUuid', col.uuid, (c) => c.notNull())
        .addColumn('l3NetworkUuid', col.uuid, (c) => c.notNull())
        .addColumn('priority', col.int, (c) => c.notNull()),
    ).execute();
    await db.schema.createIndex('uq_nic_sg').on('vm_nic_security_group_ref').columns(['vmNicUuid', 'securityGroupUuid']).unique().execute();
    await db.schema.createIndex('idx_nic_sg_sg').on('vm_nic_security_group_ref').columns(['securityGroupUuid', 'l3NetworkUuid']).execute();
  },
};

/** ZStack's `rules` and `attachedL3NetworkUuids` lists are in create/rule replies; queries reach them as expansions (`rules.protocol=TCP`). */
export const SecurityGroupInventory = defineInventory({
  name: 'SecurityGroupInventory', className: 'org.zstack.network.securitygroup.SecurityGroupInventory', table: 'security_group', resourceType: 'SecurityGroupVO',
  fields: { uuid: 'string', name: 'string', description: 'string', state: 'string', ipVersion: 'number', internalId: 'number', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    rules: { inventory: 'SecurityGroupRuleInventory', foreignKey: 'uuid', expandedKey: 'securityGroupUuid' },
    l3NetworkRefs: { inventory: 'SecurityGroupL3NetworkRefInventory', foreignKey: 'uuid', expandedKey: 'securityGroupUuid' },
    vmNicRefs: { inventory: 'VmNicSecurityGroupRefInventory', foreignKey: 'uuid', expandedKey: 'securityGroupUuid' },
  },
});

export const SecurityGroupRuleInventory = defineInventory({
  name: 'SecurityGroupRuleInventory', className: 'org.zstack.network.securitygroup.SecurityGroupRuleInventory', table: 'security_group_rule', resourceType: 'SecurityGroupRuleVO',
  fields: {
    uuid: 'string', securityGroupUuid: 'string', type: 'string', ipVersion: 'number', protocol: 'string', state: 'string', priority: 'number', description: 'string',
    action: 'string', remoteSecurityGroupUuid: 'string', allowedCidr: 'string', startPort: 'number', endPort: 'number', createDate: 'date', lastOpDate: 'date',
  },
  expansions: {
    securityGroup: { inventory: 'SecurityGroupInventory', foreignKey: 'securityGroupUuid', expandedKey: 'uuid' },
    remoteSecurityGroup: { inventory: 'SecurityGroupInventory', foreignKey: 'remoteSecurityGroupUuid', expandedKey: 'uuid' },
  },
});

export const SecurityGroupL3NetworkRefInventory = defineInventory({
  name: 'SecurityGroupL3NetworkRefInventory', className: 'org.zstack.network.securitygroup.SecurityGroupL3NetworkRefInventory', table: 'security_group_l3_ref', resourceType: 'SecurityGroupL3NetworkRefVO',
  fields: { uuid: 'string', securityGroupUuid: 'string', l3NetworkUuid: 'string', createDate: 'date', lastOpDate: 'date' },
  expansions: {
    securityGroup: { inventory: 'SecurityGroupInventory', foreignKey: 'securityGroupUuid', expandedKey: 'uuid' },
    l3Network: { inventory: 'L3NetworkInventory', foreignKey: 'l3NetworkUuid', expandedKey: 'uuid' },
  },
});

export const VmNicSecurityGroupRefInventory = defineInventory({
  name: 'VmNicSecurityGroupRefInventory', className: 'org.zstack.network.securitygroup.VmNicSecurityGroupRefInventory', table: 'vm_nic_security_group_ref', resourceType: 'VmNicSecurityGroupRefVO',
  fields: { uuid: 'string', securityGroupUuid: 'string', vmNicUuid: 'string', vmInstanceUuid: 'string', priority: 'number',
    // Not in ZStack's inventory: kept so that detaching a group from an L3 network (or deleting it) removes exactly its NICs.
    l3NetworkUuid: { type: 'string', hidden: true }, createDate: 'date', lastOpDate: 'date' },
  expansions: { securityGroup: { inventory: 'SecurityGroupInventory', foreignKey: 'securityGroupUuid', expandedKey: 'uuid' } },
});

export const securityGroupInventories = [SecurityGroupInventory, SecurityGroupRuleInventory, SecurityGroupL3NetworkRefInventory, VmNicSecurityGroupRefInventory];
