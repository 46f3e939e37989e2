import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';
import { eipNicApis } from './nic-apis.ts';

export const CreateEip = defineApi({
  name: 'CreateEip', service: 'eip', kind: 'async', method: 'POST', path: '/eips', create: true, tagResourceType: 'EipVO',
  params: { name: P.name(), description: P.description(), vipUuid: P.uuid(), vmNicUuid: Type.Optional(P.uuid()), usedIpUuid: Type.Optional(P.uuid()) },
  result: { inventory: 'EipInventory' },
  description: 'Create an EIP on a VIP that no other service uses, attached to a VM NIC when vmNicUuid is given',
});

export const UpdateEip = defineApi({
  name: 'UpdateEip', service: 'eip', kind: 'async', method: 'PUT', path: '/eips/{uuid}/actions',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid', result: { inventory: 'EipInventory' }, description: 'Update the name or description of an EIP',
});

export const ChangeEipState = defineApi({
  name: 'ChangeEipState', service: 'eip', kind: 'async', method: 'PUT', path: '/eips/{uuid}/actions',
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid', result: { inventory: 'EipInventory' }, description: 'Enable or disable an EIP',
});

export const DeleteEip = defineApi({
  name: 'DeleteEip', service: 'eip', kind: 'async', method: 'DELETE', path: '/eips/{uuid}',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid', result: { none: true }, description: 'Delete an EIP and give its VIP back',
});

export const QueryEip = defineQueryApi({ name: 'QueryEip', inventory: 'EipInventory', path: '/eips' });

export const eipApis = [CreateEip, UpdateEip, ChangeEipState, DeleteEip, QueryEip, ...eipNicApis];
