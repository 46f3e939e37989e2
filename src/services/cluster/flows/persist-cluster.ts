import type { CreateClusterCtx } from '../../../contracts/cluster.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the cluster row; rollback removes it. */
export const persistCluster: FlowStep<CreateClusterCtx> = {
  name: 'persist-cluster',
  async run(ctx, env) {
    const db = env.services.db;
    if (!db) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no database');
    const now = Date.now();
    await db
      .insertInto('cluster')
      .values({ uuid: ctx.uuid, zoneUuid: ctx.zoneUuid, name: ctx.name, description: ctx.description ?? null, state: 'Enabled', hypervisorType: ctx.hypervisorType, type: 'zstack', architecture: ctx.architecture ?? null, createDate: now, lastOpDate: now })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('cluster').where('uuid', '=', ctx.uuid).execute();
  },
};
