import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

export const CreateVolumeSnapshot = defineApi({
  name: 'CreateVolumeSnapshot', service: 'volume-snapshot', kind: 'async', method: 'POST', path: '/volumes/{volumeUuid}/volume-snapshots', create: true, tagResourceType: 'VolumeSnapshotVO',
  params: { volumeUuid: P.uuid(), name: P.name(), description: P.description() },
  // The volume's node owns its queue: every snapshot operation of one volume runs there.
  resourceUuidParam: 'volumeUuid',
  result: { inventory: 'VolumeSnapshotInventory' },
  description: 'Take a snapshot of a Ready volume; it becomes the child of the snapshot the volume stands on',
});

export const UpdateVolumeSnapshot = defineApi({
  name: 'UpdateVolumeSnapshot', service: 'volume-snapshot', kind: 'async', method: 'PUT', path: '/volume-snapshots/{uuid}/actions',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VolumeSnapshotInventory' },
  description: 'Update the name or description of a volume snapshot',
});

export const DeleteVolumeSnapshot = defineApi({
  name: 'DeleteVolumeSnapshot', service: 'volume-snapshot', kind: 'async', method: 'DELETE', path: '/volume-snapshots/{uuid}',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a volume snapshot: its data is merged into its children (and into the volume when the volume stands on it)',
});

export const RevertVolumeFromSnapshot = defineApi({
  name: 'RevertVolumeFromSnapshot', service: 'volume-snapshot', kind: 'async', method: 'PUT', path: '/volume-snapshots/{uuid}/actions',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: "Give the volume the snapshot's content again (its VM must be stopped); the next snapshot starts a new branch",
});

export const QueryVolumeSnapshot = defineQueryApi({ name: 'QueryVolumeSnapshot', inventory: 'VolumeSnapshotInventory', path: '/volume-snapshots' });
export const QueryVolumeSnapshotTree = defineQueryApi({ name: 'QueryVolumeSnapshotTree', inventory: 'VolumeSnapshotTreeInventory', path: '/volume-snapshots/trees' });

export const volumeSnapshotApis = [CreateVolumeSnapshot, UpdateVolumeSnapshot, DeleteVolumeSnapshot, RevertVolumeFromSnapshot, QueryVolumeSnapshot, QueryVolumeSnapshotTree];
