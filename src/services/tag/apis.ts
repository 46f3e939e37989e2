import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const tagParams = {
  resourceType: Type.String({ minLength: 1, maxLength: 64, description: "the resource's VO name, e.g. ZoneVO" }),
  resourceUuid: P.uuid(),
  tag: Type.String({ minLength: 1, maxLength: 2048 }),
};

export const CreateUserTag = defineApi({
  name: 'CreateUserTag', service: 'tag', kind: 'async', method: 'POST', path: '/user-tags',
  params: tagParams, resourceUuidParam: 'resourceUuid', result: { inventory: 'UserTagInventory' },
  description: 'Attach a free-form user tag to a resource',
});

export const CreateSystemTag = defineApi({
  name: 'CreateSystemTag', service: 'tag', kind: 'async', method: 'POST', path: '/system-tags',
  params: tagParams, resourceUuidParam: 'resourceUuid', result: { inventory: 'SystemTagInventory' },
  description: 'Attach a system tag to a resource; it must match a pattern declared for the resource type',
});

export const UpdateSystemTag = defineApi({
  name: 'UpdateSystemTag', service: 'tag', kind: 'async', method: 'PUT', path: '/system-tags/{uuid}/actions',
  params: { uuid: P.uuid(), tag: Type.String({ minLength: 1, maxLength: 2048 }) },
  resourceUuidParam: 'uuid', result: { inventory: 'SystemTagInventory' },
  description: 'Change the text of a system tag (validated against the same patterns)',
});

export const DeleteTag = defineApi({
  name: 'DeleteTag', service: 'tag', kind: 'async', method: 'DELETE', path: '/tags/{uuid}',
  params: { uuid: P.uuid() }, resourceUuidParam: 'uuid', result: { none: true },
  description: 'Delete a user or system tag (inherent system tags cannot be deleted)',
});

export const QuerySystemTag = defineQueryApi({ name: 'QuerySystemTag', inventory: 'SystemTagInventory', path: '/system-tags' });
export const QueryUserTag = defineQueryApi({ name: 'QueryUserTag', inventory: 'UserTagInventory', path: '/user-tags' });

export const tagApis = [CreateUserTag, CreateSystemTag, UpdateSystemTag, DeleteTag, QuerySystemTag, QueryUserTag];
