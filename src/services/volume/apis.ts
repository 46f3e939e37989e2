import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

/** 1 PiB: larger than any disk, small enough to stay an exact integer. */
const MAX_SIZE = 1024 ** 5;

export const CreateDataVolume = defineApi({
  name: 'CreateDataVolume', service: 'volume', kind: 'async', method: 'POST', path: '/volumes/data', create: true, tagResourceType: 'VolumeVO',
  params: {
    name: P.name(),
    description: P.description(),
    diskOfferingUuid: Type.Optional(P.uuid()),
    diskSize: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SIZE })),
    primaryStorageUuid: Type.Optional(P.uuid()),
  },
  result: { inventory: 'VolumeInventory' },
  description: 'Create a data volume from a disk offering or a size; NotInstantiated until it is given a primary storage (here or when first attached)',
});

export const DeleteDataVolume = defineApi({
  name: 'DeleteDataVolume', service: 'volume', kind: 'async', method: 'DELETE', path: '/volumes/{uuid}',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a data volume as volume.deletionPolicy says: Delay (recoverable until expunged), Direct or Never',
});

export const RecoverDataVolume = defineApi({
  name: 'RecoverDataVolume', service: 'volume', kind: 'async', method: 'PUT', path: '/volumes/{uuid}/actions',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeInventory' },
  description: 'Bring back a deleted data volume',
});

export const ExpungeDataVolume = defineApi({
  name: 'ExpungeDataVolume', service: 'volume', kind: 'async', method: 'PUT', path: '/volumes/{uuid}/actions',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Remove a deleted data volume for good: its bits and its primary storage capacity',
});

export const UpdateVolume = defineApi({
  name: 'UpdateVolume', service: 'volume', kind: 'async', method: 'PUT', path: '/volumes/{uuid}/actions',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeInventory' },
  description: 'Update the name or description of a volume',
});

export const ChangeVolumeState = defineApi({
  name: 'ChangeVolumeState', service: 'volume', kind: 'async', method: 'PUT', path: '/volumes/{uuid}/actions',
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeInventory' },
  description: 'Enable or disable a volume',
});

export const ResizeDataVolume = defineApi({
  name: 'ResizeDataVolume', service: 'volume', kind: 'async', method: 'PUT', path: '/volumes/data/resize/{uuid}/actions',
  params: { uuid: P.uuid(), size: Type.Integer({ minimum: 1, maximum: MAX_SIZE }) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeInventory' },
  description: 'Grow a data volume to size bytes (its primary storage must have the room)',
});

export const ResizeRootVolume = defineApi({
  name: 'ResizeRootVolume', service: 'volume', kind: 'async', method: 'PUT', path: '/volumes/resize/{uuid}/actions',
  params: { uuid: P.uuid(), size: Type.Integer({ minimum: 1, maximum: MAX_SIZE }) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeInventory' },
  description: "Grow a VM's root volume to size bytes, while the VM runs (the hypervisor grows the disk under the guest) or is stopped",
});

export const QueryVolume = defineQueryApi({ name: 'QueryVolume', inventory: 'VolumeInventory', path: '/volumes' });

export const volumeApis = [CreateDataVolume, DeleteDataVolume, RecoverDataVolume, ExpungeDataVolume, UpdateVolume, ChangeVolumeState, ResizeDataVolume, ResizeRootVolume, QueryVolume];
