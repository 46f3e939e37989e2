import { Type } from '@sinclair/typebox';
import { defineApi, P } from '../../core/api/define-api.ts';

const IPV4 = '^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$';

export const AttachL3NetworkToVm = defineApi({
  name: 'AttachL3NetworkToVm', service: 'vm', kind: 'async', method: 'POST', path: '/vm-instances/{vmInstanceUuid}/l3-networks/{l3NetworkUuid}',
  params: { vmInstanceUuid: P.uuid(), l3NetworkUuid: P.uuid(), staticIp: Type.Optional(Type.String({ pattern: IPV4, description: 'an IPv4 address of the L3 network' })) },
  resourceUuidParam: 'vmInstanceUuid',
  result: { inventory: 'VmInstanceInventory' },
  description: 'Give a Running or Stopped VM a new NIC on an L3 network (an IP from it, the static one when given); a Running VM gets it hot-plugged',
});

export const DetachL3NetworkFromVm = defineApi({
  name: 'DetachL3NetworkFromVm', service: 'vm', kind: 'async', method: 'DELETE', path: '/vm-instances/nics/{vmNicUuid}',
  params: { vmNicUuid: P.uuid() },
  result: { inventory: 'VmInstanceInventory' },
  description: "Remove a NIC from its VM: its EIPs and security groups let go of it, its IP is given back; the VM's default L3 network moves to another NIC",
});

export const ChangeInstanceOffering = defineApi({
  // ZStack names the path variable vmInstanceUuid; the REST server routes one variable name per path.
  name: 'ChangeInstanceOffering', service: 'vm', kind: 'async', method: 'PUT', path: '/vm-instances/{uuid}/actions',
  params: { uuid: P.uuid(), instanceOfferingUuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VmInstanceInventory' },
  description: "Give a Stopped VM another instance offering's CPU and memory (ZStack also allows it live with CPU/memory hot-plug; Strato does not)",
});

export const vmNicApis = [AttachL3NetworkToVm, DetachL3NetworkFromVm, ChangeInstanceOffering];
