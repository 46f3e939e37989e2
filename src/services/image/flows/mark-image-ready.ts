import type { AddImageCtx } from '../../../contracts/image.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/**
 * Records size, actual size, md5 and format, makes the image and its downloaded references Ready
 * and drops the references of storages that failed. The rows themselves go in persist-image's rollback.
 */
export const markImageReady: FlowStep<AddImageCtx> = {
  name: 'mark-image-ready',
  async run(ctx, env) {
    const db = env.services.db!;
    const facts = ctx.facts;
    if (!facts) throw new StratoError(SysErrors.INTERNAL, `image ${ctx.uuid} has no download result`);
    const format = ctx.format ?? facts.format ?? (ctx.mediaType === 'ISO' ? 'iso' : 'raw');
    if (ctx.mediaType === 'ISO' && format !== 'iso') throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an ISO image must have format iso, the file at ${ctx.url} is ${format}`);
    const now = Date.now();
    for (const d of ctx.downloaded ?? []) {
      await db.updateTable('image_backup_storage_ref').set({ status: 'Ready', installPath: d.installPath, actualSize: d.actualSize, lastOpDate: now }).where('imageUuid', '=', ctx.uuid).where('backupStorageUuid', '=', d.backupStorageUuid).execute();
    }
    if (ctx.failed?.length) await db.deleteFrom('image_backup_storage_ref').where('imageUuid', '=', ctx.uuid).where('backupStorageUuid', 'in', ctx.failed).execute();
    await db.updateTable('image').set({ status: 'Ready', size: facts.size, actualSize: facts.actualSize, md5Sum: facts.md5sum, format, lastOpDate: now }).where('uuid', '=', ctx.uuid).execute();
  },
  rollback: noRollback,
};
