import type { Kysely } from 'kysely';
import type { BackupStorageBackend, BackupStorageCapacity, BackupStorageView } from '../../contracts/backup-storage.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { checkFault } from './faults.ts';
import { inspectImageUrl } from './image-source.ts';

/**
 * The `SimulatorBackupStorage` type: a backup storage that exists only as rows. Capacity is what
 * the Add API gave minus the images it holds; downloads "store" an image by recording what
 * `inspectImageUrl` learns from the URL; failures come from `injectBackupStorageFault`.
 */
export function simulatorBackupStorageBackend(db: Kysely<any>): BackupStorageBackend {
  async function capacity(bs: BackupStorageView): Promise<BackupStorageCapacity> {
    const row = await db.selectFrom('simulator_backup_storage').selectAll().where('uuid', '=', bs.uuid).executeTakeFirst();
    if (!row) throw new StratoError(SysErrors.OPERATION_ERROR, `simulated backup storage ${bs.uuid} is unknown to the simulator`);
    const used = await db.selectFrom('simulator_backup_storage_image').select((eb) => eb.fn.sum<number>('actualSize').as('used')).where('backupStorageUuid', '=', bs.uuid).executeTakeFirst();
    return { totalCapacity: Number(row.totalCapacity), availableCapacity: Math.max(0, Number(row.availableCapacity) - Number(used?.used ?? 0)) };
  }

  return {
    async add(bs, params) {
      checkFault(bs.uuid, 'add');
      const total = Number(params.totalCapacity ?? 0);
      const available = params.availableCapacity === undefined ? total : Number(params.availableCapacity);
      if (available > total) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `availableCapacity ${available} is larger than totalCapacity ${total}`);
      await db.deleteFrom('simulator_backup_storage').where('uuid', '=', bs.uuid).execute();
      await db.insertInto('simulator_backup_storage').values({ uuid: bs.uuid, totalCapacity: total, availableCapacity: available }).execute();
    },

    async connect(bs) {
      checkFault(bs.uuid, 'connect');
      return capacity(bs);
    },

    capacity,

    async downloadImage(bs, req, onProgress) {
      checkFault(bs.uuid, 'download');
      const facts = await inspectImageUrl(req.url, onProgress);
      const { availableCapacity } = await capacity(bs);
      if (facts.actualSize > availableCapacity) throw new StratoError(SysErrors.OPERATION_ERROR, `simulated backup storage ${bs.uuid} has ${availableCapacity} bytes free, image ${req.imageUuid} needs ${facts.actualSize}`);
      const installPath = `${bs.url.replace(/\/+$/, '')}/${req.imageUuid}`;
      await db.deleteFrom('simulator_backup_storage_image').where('backupStorageUuid', '=', bs.uuid).where('imageUuid', '=', req.imageUuid).execute();
      await db.insertInto('simulator_backup_storage_image').values({ installPath, backupStorageUuid: bs.uuid, imageUuid: req.imageUuid, size: facts.size, actualSize: facts.actualSize, md5sum: facts.md5sum, createDate: Date.now() }).execute();
      return { installPath, ...facts };
    },

    async deleteImage(bs, image) {
      checkFault(bs.uuid, 'delete');
      await db.deleteFrom('simulator_backup_storage_image').where('backupStorageUuid', '=', bs.uuid).where('installPath', '=', image.installPath).execute();
    },

    async remove(bs) {
      await db.deleteFrom('simulator_backup_storage_image').where('backupStorageUuid', '=', bs.uuid).execute();
      await db.deleteFrom('simulator_backup_storage').where('uuid', '=', bs.uuid).execute();
    },
  };
}
