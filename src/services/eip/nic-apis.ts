import { Type } from '@sinclair/typebox';
import { defineApi, P } from '../../core/api/define-api.ts';

export const AttachEip = defineApi({
  name: 'AttachEip', service: 'eip', kind: 'async', method: 'POST', path: '/eips/{eipUuid}/vm-instances/nics/{vmNicUuid}',
  params: { eipUuid: P.uuid(), vmNicUuid: P.uuid(), usedIpUuid: Type.Optional(P.uuid()) },
  resourceUuidParam: 'eipUuid', result: { inventory: 'EipInventory' },
  description: "Map an EIP's VIP to a VM NIC's address; the NIC may not be on the VIP's L3 network and holds at most one EIP per public L3 network",
});

export const DetachEip = defineApi({
  name: 'DetachEip', service: 'eip', kind: 'async', method: 'DELETE', path: '/eips/{uuid}/vm-instances/nics',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid', result: { inventory: 'EipInventory' },
  description: 'Detach an EIP from its VM NIC (the EIP and its VIP stay)',
});

export const eipNicApis = [AttachEip, DetachEip];
