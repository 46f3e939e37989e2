import { defineQueryApi } from '../../core/api/define-api.ts';

export const QueryAudit = defineQueryApi({ name: 'QueryAudit', inventory: 'AuditInventory', path: '/audits', adminOnly: true, description: 'Query the record of API calls: who, from where, what (secrets masked), the outcome and the duration' });
export const auditApis = [QueryAudit];
