import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi } from '../../core/api/define-api.ts';

export const UpdateGlobalConfig = defineApi({
  name: 'UpdateGlobalConfig', service: 'globalConfig', kind: 'async', method: 'PUT', path: '/global-configurations/{category}/{name}/actions', adminOnly: true,
  params: { category: Type.String({ minLength: 1, maxLength: 64 }), name: Type.String({ minLength: 1, maxLength: 128 }), value: Type.String({ maxLength: 65535 }) },
  result: { inventory: 'GlobalConfigInventory' },
  description: 'Change a global configuration value; it is validated against its declared type and range',
});

export const QueryGlobalConfig = defineQueryApi({ name: 'QueryGlobalConfig', inventory: 'GlobalConfigInventory', path: '/global-configurations', adminOnly: true });

export const globalConfigApis = [UpdateGlobalConfig, QueryGlobalConfig];
