import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

/** ZStack's name rule: no leading or trailing space; letters, digits, CJK and `-_.():+" `. */
const ZONE_NAME = Type.String({ minLength: 1, maxLength: 255, pattern: '^(?! )[\\u4e00-\\u9fa5a-zA-Z0-9\\-_.():+" ]*[^ ]$' });

export const CreateZone = defineApi({
  name: 'CreateZone', service: 'zone', kind: 'async', method: 'POST', path: '/zones', create: true, tagResourceType: 'ZoneVO', adminOnly: true,
  params: { name: ZONE_NAME, description: P.description(), isDefault: Type.Optional(Type.Boolean()), type: Type.Optional(Type.Literal('zstack')) },
  result: { inventory: 'ZoneInventory' },
  description: 'Create a zone',
});

export const UpdateZone = defineApi({
  name: 'UpdateZone', service: 'zone', kind: 'async', method: 'PUT', path: '/zones/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(ZONE_NAME), description: P.description(), isDefault: Type.Optional(Type.Boolean()) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ZoneInventory' },
  description: 'Update the name, description or default flag of a zone',
});

export const ChangeZoneState = defineApi({
  name: 'ChangeZoneState', service: 'zone', kind: 'async', method: 'PUT', path: '/zones/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ZoneInventory' },
  description: 'Enable or disable a zone',
});

export const DeleteZone = defineApi({
  name: 'DeleteZone', service: 'zone', kind: 'async', method: 'DELETE', path: '/zones/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a zone and everything in it (clusters, hosts, …) through the cascade',
});

export const QueryZone = defineQueryApi({ name: 'QueryZone', inventory: 'ZoneInventory', path: '/zones' });

export const zoneApis = [CreateZone, UpdateZone, ChangeZoneState, DeleteZone, QueryZone];
