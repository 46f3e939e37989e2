import { Type } from '@sinclair/typebox';
import { defineApi, P } from '../../core/api/define-api.ts';

/** 1 EiB: larger than any storage anyone will simulate, small enough to stay an exact integer. */
const MAX_CAPACITY = 1024 ** 6;

export const AddSimulatorBackupStorage = defineApi({
  name: 'AddSimulatorBackupStorage', service: 'simulator-backup-storage', kind: 'async', method: 'POST', path: '/backup-storage/simulators', create: true, tagResourceType: 'BackupStorageVO', adminOnly: true,
  params: {
    name: P.name(),
    description: P.description(),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    totalCapacity: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_CAPACITY })),
    availableCapacity: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_CAPACITY })),
    type: Type.Optional(Type.String({ maxLength: 255 })),
    importImages: Type.Optional(Type.Boolean()),
  },
  result: { inventory: 'BackupStorageInventory' },
  description: 'Add a simulated backup storage with the given capacity',
});

export const simulatorBackupStorageApis = [AddSimulatorBackupStorage];
