import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { CreateDataVolumeCtx } from './volume-ctx.ts';

/** Inserts the data volume as Enabled/NotInstantiated; rollback removes it. */
export const persistVolume: FlowStep<CreateDataVolumeCtx> = {
  name: 'persist-volume',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    await db
      .insertInto('volume')
      .values({ uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, diskOfferingUuid: ctx.diskOfferingUuid ?? null, type: 'Data', format: ctx.format ?? 'qcow2', size: ctx.size, actualSize: 0, state: 'Enabled', status: 'NotInstantiated', isShareable: false, charged: 0, createDate: now, lastOpDate: now })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('volume').where('uuid', '=', ctx.uuid).execute();
  },
};
