import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

/** A backup storage URL: the storage's root path (`/zstack_bs`) for image stores. */
export const BS_URL = () => Type.String({ minLength: 1, maxLength: 2048 });

export const AddImageStoreBackupStorage = defineApi({
  name: 'AddImageStoreBackupStorage', service: 'backup-storage', kind: 'async', method: 'POST', path: '/backup-storage/image-store', create: true, tagResourceType: 'BackupStorageVO', adminOnly: true,
  params: {
    name: P.name(),
    description: P.description(),
    url: BS_URL(),
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    username: Type.String({ maxLength: 255 }),
    // Strato's addition: an OpenSSH private key instead of the password (the backend needs one of the two).
    password: Type.Optional(Type.String({ maxLength: 255 })),
    sshPrivateKey: Type.Optional(Type.String({ minLength: 1, maxLength: 16384 })),
    sshPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    type: Type.Optional(Type.String({ maxLength: 255 })),
    importImages: Type.Optional(Type.Boolean()),
  },
  result: { inventory: 'BackupStorageInventory' },
  description: 'Add an image store backup storage (its backend is a plugin of type ImageStoreBackupStorage)',
});

export const UpdateBackupStorage = defineApi({
  name: 'UpdateBackupStorage', service: 'backup-storage', kind: 'async', method: 'PUT', path: '/backup-storage/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'BackupStorageInventory' },
  description: 'Update the name or description of a backup storage',
});

export const ChangeBackupStorageState = defineApi({
  name: 'ChangeBackupStorageState', service: 'backup-storage', kind: 'async', method: 'PUT', path: '/backup-storage/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'BackupStorageInventory' },
  description: 'Enable or disable a backup storage (a disabled one takes no new images)',
});

export const ReconnectBackupStorage = defineApi({
  name: 'ReconnectBackupStorage', service: 'backup-storage', kind: 'async', method: 'PUT', path: '/backup-storage/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'BackupStorageInventory' },
  description: 'Reconnect a backup storage and refresh its capacity',
});

export const DeleteBackupStorage = defineApi({
  name: 'DeleteBackupStorage', service: 'backup-storage', kind: 'async', method: 'DELETE', path: '/backup-storage/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a backup storage: it is detached from its zones and its image references go',
});

export const AttachBackupStorageToZone = defineApi({
  name: 'AttachBackupStorageToZone', service: 'backup-storage', kind: 'async', method: 'POST', path: '/zones/{zoneUuid}/backup-storage/{backupStorageUuid}', adminOnly: true,
  params: { zoneUuid: P.uuid(), backupStorageUuid: P.uuid() },
  resourceUuidParam: 'backupStorageUuid',
  result: { inventory: 'BackupStorageInventory' },
  description: 'Attach a backup storage to a zone',
});

export const DetachBackupStorageFromZone = defineApi({
  name: 'DetachBackupStorageFromZone', service: 'backup-storage', kind: 'async', method: 'DELETE', path: '/zones/{zoneUuid}/backup-storage/{backupStorageUuid}', adminOnly: true,
  params: { zoneUuid: P.uuid(), backupStorageUuid: P.uuid() },
  resourceUuidParam: 'backupStorageUuid',
  result: { inventory: 'BackupStorageInventory' },
  description: 'Detach a backup storage from a zone',
});

export const QueryBackupStorage = defineQueryApi({ name: 'QueryBackupStorage', inventory: 'BackupStorageInventory', path: '/backup-storage' });

export const backupStorageApis = [AddImageStoreBackupStorage, UpdateBackupStorage, ChangeBackupStorageState, ReconnectBackupStorage, DeleteBackupStorage, AttachBackupStorageToZone, DetachBackupStorageFromZone, QueryBackupStorage];
