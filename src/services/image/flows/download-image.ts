import { BACKUP_STORAGE_SERVICE, BackupStorageMessages, type DownloadedImage } from '../../../contracts/backup-storage.ts';
import type { AddImageCtx } from '../../../contracts/image.ts';
import { StratoError, SysErrors, toErrorCode } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** AddImage's `checksum::<md5 or sha256 hex>` system tag: the storages verify the download against it. */
export const IMAGE_CHECKSUM_TAG = 'checksum::{checksum}';
const checksumOf = (systemTags: readonly string[] | undefined) => systemTags?.find((t) => t.startsWith('checksum::'))?.slice('checksum::'.length).toLowerCase();

/**
 * Asks every backup storage to download the image, in parallel. As in ZStack the image is added
 * when at least one storage has it; when none does, the first failure fails the chain. Rollback
 * deletes every copy made (after a crash too: each copy is journaled before the step moves on).
 */
export const downloadImage: FlowStep<AddImageCtx> = {
  name: 'download-image',
  async run(ctx, env) {
    const bus = env.services.bus!;
    ctx.downloaded = [];
    ctx.failed = [];
    const errors: unknown[] = [];
    await Promise.all(
      ctx.backupStorageUuids.map(async (backupStorageUuid) => {
        try {
          const image = await bus.call<DownloadedImage>(BACKUP_STORAGE_SERVICE, BackupStorageMessages.downloadImage, { backupStorageUuid, imageUuid: ctx.uuid, url: ctx.url, format: ctx.format, mediaType: ctx.mediaType, checksum: checksumOf(ctx.systemTags) }, { resourceUuid: backupStorageUuid });
          ctx.downloaded!.push({ backupStorageUuid, installPath: image.installPath, actualSize: Number(image.actualSize) });
          ctx.facts ??= { size: Number(image.size), actualSize: Number(image.actualSize), md5sum: image.md5sum, format: image.format };
          await env.checkpoint();
        } catch (e) {
          ctx.failed!.push(backupStorageUuid);
          errors.push(e);
          env.log.warn({ err: toErrorCode(e), backupStorageUuid, image: ctx.uuid }, 'image download failed on a backup storage');
        }
      }),
    );
    if (ctx.downloaded.length === 0) {
      const first = errors[0];
      throw first instanceof StratoError ? first : new StratoError(SysErrors.OPERATION_ERROR, `failed to download image ${ctx.uuid} from ${ctx.url}`, { cause: first });
    }
  },
  async rollback(ctx, env) {
    const bus = env.services.bus!;
    for (const d of ctx.downloaded ?? []) {
      try {
        await bus.call(BACKUP_STORAGE_SERVICE, BackupStorageMessages.deleteImage, { backupStorageUuid: d.backupStorageUuid, imageUuid: ctx.uuid, installPath: d.installPath, actualSize: d.actualSize }, { resourceUuid: d.backupStorageUuid });
      } catch (e) {
        env.log.warn({ err: toErrorCode(e), backupStorageUuid: d.backupStorageUuid, image: ctx.uuid }, 'failed to delete a downloaded image while rolling back');
      }
    }
  },
};
