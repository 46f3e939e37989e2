import type { AddBackupStorageCtx } from '../../../contracts/backup-storage.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the row as Enabled/Connecting with no capacity yet; rollback removes it and its zone refs. */
export const persistBackupStorage: FlowStep<AddBackupStorageCtx> = {
  name: 'persist-backup-storage',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    await db
      .insertInto('backup_storage')
      .values({ uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, url: ctx.url, type: ctx.type, state: 'Enabled', status: 'Connecting', totalCapacity: 0, availableCapacity: 0, createDate: now, lastOpDate: now })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('backup_storage_zone_ref').where('backupStorageUuid', '=', ctx.uuid).execute();
    await db.deleteFrom('backup_storage').where('uuid', '=', ctx.uuid).execute();
  },
};
