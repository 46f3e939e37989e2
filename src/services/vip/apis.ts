import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

export const CreateVip = defineApi({
  name: 'CreateVip', service: 'vip', kind: 'async', method: 'POST', path: '/vips', create: true, tagResourceType: 'VipVO',
  params: {
    name: P.name(), description: P.description(), l3NetworkUuid: P.uuid(), ipRangeUuid: Type.Optional(P.uuid()),
    requiredIp: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    allocatorStrategy: Type.Optional(Type.Union([Type.Literal('RandomIpAllocatorStrategy'), Type.Literal('FirstAvailableIpAllocatorStrategy')])),
  },
  result: { inventory: 'VipInventory' },
  description: 'Create a VIP: an address of a Public (or System) L3 network taken from its IPAM',
});

export const UpdateVip = defineApi({
  name: 'UpdateVip', service: 'vip', kind: 'async', method: 'PUT', path: '/vips/{uuid}/actions',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid', result: { inventory: 'VipInventory' }, description: 'Update the name or description of a VIP',
});

export const ChangeVipState = defineApi({
  name: 'ChangeVipState', service: 'vip', kind: 'async', method: 'PUT', path: '/vips/{uuid}/actions',
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid', result: { inventory: 'VipInventory' }, description: 'Enable or disable a VIP (a Disabled VIP cannot be acquired by a new service)',
});

export const DeleteVip = defineApi({
  name: 'DeleteVip', service: 'vip', kind: 'async', method: 'DELETE', path: '/vips/{uuid}',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid', result: { none: true }, description: 'Delete a VIP with the services using it (EIPs) and release its IP',
});

export const QueryVip = defineQueryApi({ name: 'QueryVip', inventory: 'VipInventory', path: '/vips' });

export const vipApis = [CreateVip, UpdateVip, ChangeVipState, DeleteVip, QueryVip];
