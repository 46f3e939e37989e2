import { defineInventory } from '../../core/query/inventory.ts';

// The tables are created by the core tag migration (src/core/tag/tag-store.ts): every service's resources carry tags.
const tagFields = { uuid: 'string', resourceUuid: 'string', resourceType: 'string', tag: 'string', type: 'string', createDate: 'date', lastOpDate: 'date' } as const;

export const SystemTagInventory = defineInventory({
  name: 'SystemTagInventory',
  className: 'org.zstack.header.tag.SystemTagInventory',
  table: 'system_tag',
  resourceType: 'SystemTagVO',
  fields: { ...tagFields, inherent: 'boolean' },
});

export const UserTagInventory = defineInventory({
  name: 'UserTagInventory',
  className: 'org.zstack.header.tag.UserTagInventory',
  table: 'user_tag',
  resourceType: 'UserTagVO',
  fields: { ...tagFields, tagPatternUuid: 'string' },
});
