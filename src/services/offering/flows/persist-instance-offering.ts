import type { CreateInstanceOfferingCtx } from '../../../contracts/offering.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the instance offering row (Enabled); rollback removes it. */
export const persistInstanceOffering: FlowStep<CreateInstanceOfferingCtx> = {
  name: 'persist-instance-offering',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    await db
      .insertInto('instance_offering')
      .values({
        uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, cpuNum: ctx.cpuNum, cpuSpeed: ctx.cpuSpeed, memorySize: ctx.memorySize, reservedMemorySize: ctx.reservedMemorySize,
        type: ctx.type, allocatorStrategy: ctx.allocatorStrategy, sortKey: ctx.sortKey, state: 'Enabled', createDate: now, lastOpDate: now,
      })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('instance_offering').where('uuid', '=', ctx.uuid).execute();
  },
};
