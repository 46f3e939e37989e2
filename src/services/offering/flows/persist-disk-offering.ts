import type { CreateDiskOfferingCtx } from '../../../contracts/offering.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the disk offering row (Enabled); rollback removes it. */
export const persistDiskOffering: FlowStep<CreateDiskOfferingCtx> = {
  name: 'persist-disk-offering',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    await db
      .insertInto('disk_offering')
      .values({ uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, diskSize: ctx.diskSize, sortKey: ctx.sortKey, state: 'Enabled', type: ctx.type, allocatorStrategy: ctx.allocatorStrategy, createDate: now, lastOpDate: now })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('disk_offering').where('uuid', '=', ctx.uuid).execute();
  },
};
