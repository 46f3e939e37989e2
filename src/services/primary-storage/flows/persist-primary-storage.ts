import type { AddPrimaryStorageCtx } from '../../../contracts/primary-storage.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the row as Enabled/Connecting with no capacity yet; rollback removes it and its cluster refs. */
export const persistPrimaryStorage: FlowStep<AddPrimaryStorageCtx> = {
  name: 'persist-primary-storage',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const zone = await db.selectFrom('zone').select('uuid').where('uuid', '=', ctx.zoneUuid).executeTakeFirst();
    if (!zone) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Zone[uuid:${ctx.zoneUuid}]`);
    const now = Date.now();
    await db
      .insertInto('primary_storage')
      .values({ uuid: ctx.uuid, zoneUuid: ctx.zoneUuid, name: ctx.name, description: ctx.description ?? null, url: ctx.url, type: ctx.type, mountPath: ctx.url, state: 'Enabled', status: 'Connecting', createDate: now, lastOpDate: now })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('primary_storage_cluster_ref').where('primaryStorageUuid', '=', ctx.uuid).execute();
    await db.deleteFrom('primary_storage').where('uuid', '=', ctx.uuid).execute();
  },
};
