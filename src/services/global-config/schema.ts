import { defineInventory } from '../../core/query/inventory.ts';

// The table is created by the core migration (src/core/config/global-config.ts).
export const GlobalConfigInventory = defineInventory({
  name: 'GlobalConfigInventory',
  className: 'org.zstack.core.config.GlobalConfigInventory',
  table: 'global_config',
  resourceType: 'GlobalConfigVO',
  primaryKey: 'id',
  fields: { id: 'number', name: 'string', category: 'string', description: 'string', defaultValue: 'string', value: 'string' },
  defaultSort: 'id',
});
