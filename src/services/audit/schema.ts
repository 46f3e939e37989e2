import { col, type Migration } from '../../core/db/index.ts';
import { defineInventory } from '../../core/query/inventory.ts';

export const auditMigration: Migration = {
  id: '0150-audit-log',
  async up(db) {
    await db.schema
      .createTable('audit_log')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('apiId', col.uuid)
      .addColumn('apiName', 'varchar(128)', (c) => c.notNull())
      .addColumn('accountUuid', col.uuid)
      .addColumn('userUuid', col.uuid)
      .addColumn('accessKeyId', 'varchar(128)')
      .addColumn('clientIp', 'varchar(64)')
      .addColumn('params', col.text)
      .addColumn('success', col.bool, (c) => c.notNull())
      .addColumn('error', 'varchar(64)')
      .addColumn('durationMs', col.int, (c) => c.notNull())
      .addColumn('createDate', col.date, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('idx_audit_log_create').on('audit_log').columns(['createDate', 'uuid']).execute();
    await db.schema.createIndex('idx_audit_log_account').on('audit_log').column('accountUuid').execute();
  },
};

/** One API call: who (account, user, access key), from where, what (API and masked parameters), the outcome and how long it took. */
export const AuditInventory = defineInventory({
  name: 'AuditInventory',
  className: 'org.zstack.strato.audit.AuditInventory',
  table: 'audit_log',
  resourceType: 'AuditVO',
  fields: { uuid: 'string', apiId: 'string', apiName: 'string', accountUuid: 'string', userUuid: 'string', accessKeyId: 'string', clientIp: 'string', params: 'string', success: 'boolean', error: 'string', durationMs: 'number', createDate: 'date' },
});
