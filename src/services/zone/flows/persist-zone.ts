import type { CreateZoneCtx } from '../../../contracts/zone.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the zone row; a new default zone takes the flag from the previous one (restored on rollback). */
export const persistZone: FlowStep<CreateZoneCtx & { previousDefault?: string[] }> = {
  name: 'persist-zone',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    if (ctx.isDefault) {
      const previous = await db.selectFrom('zone').select('uuid').where('isDefault', '=', true).execute();
      ctx.previousDefault = previous.map((r) => r.uuid as string);
      await env.checkpoint();
      if (ctx.previousDefault.length) await db.updateTable('zone').set({ isDefault: false }).where('uuid', 'in', ctx.previousDefault).execute();
    }
    await db.insertInto('zone').values({ uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, state: 'Enabled', type: 'zstack', isDefault: ctx.isDefault, createDate: now, lastOpDate: now }).execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('zone').where('uuid', '=', ctx.uuid).execute();
    if (ctx.previousDefault?.length) await db.updateTable('zone').set({ isDefault: true }).where('uuid', 'in', ctx.previousDefault).execute();
  },
};
