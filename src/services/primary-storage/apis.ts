import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

/** A primary storage URL: the mount or root path (`/local_ps`, `nfs-host:/export`). */
export const PS_URL = () => Type.String({ minLength: 1, maxLength: 2048 });

export const AddLocalPrimaryStorage = defineApi({
  name: 'AddLocalPrimaryStorage', service: 'primary-storage', kind: 'async', method: 'POST', path: '/primary-storage/local-storage', create: true, tagResourceType: 'PrimaryStorageVO', adminOnly: true,
  params: {
    url: PS_URL(),
    name: P.name(),
    description: P.description(),
    type: Type.Optional(Type.String({ maxLength: 255 })),
    zoneUuid: P.uuid(),
  },
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Add a local storage primary storage: a directory on every host of the clusters it is attached to',
});

export const UpdatePrimaryStorage = defineApi({
  name: 'UpdatePrimaryStorage', service: 'primary-storage', kind: 'async', method: 'PUT', path: '/primary-storage/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description(), url: Type.Optional(PS_URL()) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Update the name, description or URL of a primary storage',
});

export const ChangePrimaryStorageState = defineApi({
  name: 'ChangePrimaryStorageState', service: 'primary-storage', kind: 'async', method: 'PUT', path: '/primary-storage/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: Type.Union([Type.Literal('enable'), Type.Literal('disable'), Type.Literal('maintain'), Type.Literal('deleting')]) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Enable, disable or put a primary storage into maintenance (only Enabled storages take new volumes)',
});

export const ReconnectPrimaryStorage = defineApi({
  name: 'ReconnectPrimaryStorage', service: 'primary-storage', kind: 'async', method: 'PUT', path: '/primary-storage/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Reconnect a primary storage and refresh its capacity',
});

export const DeletePrimaryStorage = defineApi({
  name: 'DeletePrimaryStorage', service: 'primary-storage', kind: 'async', method: 'DELETE', path: '/primary-storage/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a primary storage: its volumes are expunged and it is detached from its clusters',
});

export const AttachPrimaryStorageToCluster = defineApi({
  name: 'AttachPrimaryStorageToCluster', service: 'primary-storage', kind: 'async', method: 'POST', path: '/clusters/{clusterUuid}/primary-storage/{primaryStorageUuid}', adminOnly: true,
  params: { clusterUuid: P.uuid(), primaryStorageUuid: P.uuid() },
  resourceUuidParam: 'primaryStorageUuid',
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Attach a primary storage to a cluster of its zone',
});

export const DetachPrimaryStorageFromCluster = defineApi({
  name: 'DetachPrimaryStorageFromCluster', service: 'primary-storage', kind: 'async', method: 'DELETE', path: '/clusters/{clusterUuid}/primary-storage/{primaryStorageUuid}', adminOnly: true,
  params: { clusterUuid: P.uuid(), primaryStorageUuid: P.uuid() },
  resourceUuidParam: 'primaryStorageUuid',
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Detach a primary storage from a cluster',
});

export const QueryPrimaryStorage = defineQueryApi({ name: 'QueryPrimaryStorage', inventory: 'PrimaryStorageInventory', path: '/primary-storage' });
export const QueryImageCache = defineQueryApi({ name: 'QueryImageCache', inventory: 'ImageCacheInventory', path: '/primary-storage/imagecache', adminOnly: true });

export const primaryStorageApis = [AddLocalPrimaryStorage, UpdatePrimaryStorage, ChangePrimaryStorageState, ReconnectPrimaryStorage, DeletePrimaryStorage, AttachPrimaryStorageToCluster, DetachPrimaryStorageFromCluster, QueryPrimaryStorage, QueryImageCache];
