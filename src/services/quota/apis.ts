import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

export const UpdateQuota = defineApi({
  name: 'UpdateQuota', service: 'quota', kind: 'async', method: 'PUT', path: '/accounts/quotas/actions', bodyKey: 'updateQuota', adminOnly: true,
  params: { identityUuid: P.uuid('the account'), name: Type.String({ minLength: 1, maxLength: 64 }), value: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) },
  resourceUuidParam: 'identityUuid',
  result: { inventory: 'QuotaInventory' },
  description: "Set one quota of an account (administrators only); what the account already uses is not taken back",
});

export const GetAccountQuotaUsage = defineApi({
  name: 'GetAccountQuotaUsage', service: 'quota', kind: 'sync', method: 'GET', path: '/accounts/quota/{uuid}/usages',
  params: { uuid: P.uuid('the account') },
  resourceUuidParam: 'uuid',
  result: { fields: { usages: Type.Array(Type.Object({ name: Type.String(), used: Type.Number(), total: Type.Number() })) } },
  description: 'What an account uses of each quota, and the quota',
});

export const QueryQuota = defineQueryApi({ name: 'QueryQuota', inventory: 'QuotaInventory', path: '/accounts/quotas' });

export const quotaApis = [UpdateQuota, GetAccountQuotaUsage, QueryQuota];
