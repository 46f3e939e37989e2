import type { AddImageCtx } from '../../../contracts/image.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { newUuid } from '../../../core/util/uuid.ts';

/** Inserts the image (Downloading) and one Downloading reference per backup storage; rollback removes them. */
export const persistImage: FlowStep<AddImageCtx> = {
  name: 'persist-image',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    await db
      .insertInto('image')
      .values({
        uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, state: 'Enabled', status: 'Downloading', size: null, actualSize: null, md5Sum: null, url: ctx.url,
        mediaType: ctx.mediaType, guestOsType: ctx.guestOsType ?? null, type: ctx.type, platform: ctx.platform ?? null, architecture: ctx.architecture ?? null, format: ctx.format ?? null,
        system: ctx.system, virtio: ctx.virtio, createDate: now, lastOpDate: now,
      })
      .execute();
    ctx.persisted = true;
    await db
      .insertInto('image_backup_storage_ref')
      .values(ctx.backupStorageUuids.map((bs) => ({ id: newUuid(), imageUuid: ctx.uuid, backupStorageUuid: bs, installPath: null, status: 'Downloading', exportUrl: null, actualSize: null, createDate: now, lastOpDate: now })))
      .execute();
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('image_backup_storage_ref').where('imageUuid', '=', ctx.uuid).execute();
    await db.deleteFrom('image').where('uuid', '=', ctx.uuid).execute();
  },
};
