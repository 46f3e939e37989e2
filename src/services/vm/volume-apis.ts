import { Type } from '@sinclair/typebox';
import { defineApi, P } from '../../core/api/define-api.ts';

export const AttachDataVolumeToVm = defineApi({
  // Routed by the VM: the attach runs in the VM's queue.
  name: 'AttachDataVolumeToVm', service: 'vm', kind: 'async', method: 'POST', path: '/volumes/{volumeUuid}/vm-instances/{vmInstanceUuid}',
  params: { volumeUuid: P.uuid(), vmInstanceUuid: P.uuid() },
  resourceUuidParam: 'vmInstanceUuid',
  result: { inventory: 'VolumeInventory' },
  description: 'Attach a data volume to a Running or Stopped VM; a NotInstantiated volume is first made on a primary storage of the VM\'s cluster',
});

export const DetachDataVolumeFromVm = defineApi({
  name: 'DetachDataVolumeFromVm', service: 'vm', kind: 'async', method: 'DELETE', path: '/volumes/{uuid}/vm-instances',
  params: { uuid: P.uuid(), vmUuid: Type.Optional(P.uuid()) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeInventory' },
  description: 'Detach a data volume from its VM (Running or Stopped); vmUuid, when given, must be that VM',
});

export const GetVmAttachableDataVolume = defineApi({
  name: 'GetVmAttachableDataVolume', service: 'vm', kind: 'sync', method: 'GET', path: '/vm-instances/{vmInstanceUuid}/data-volume-candidates',
  params: { vmInstanceUuid: P.uuid() },
  resourceUuidParam: 'vmInstanceUuid',
  result: { inventories: 'VolumeInventory' },
  description: 'The data volumes a VM can attach: on no VM, Enabled, and NotInstantiated or Ready on a primary storage attached to the VM\'s cluster',
});

export const vmVolumeApis = [AttachDataVolumeToVm, DetachDataVolumeFromVm, GetVmAttachableDataVolume];
