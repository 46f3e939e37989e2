import type { AddHostCtx } from '../../../contracts/host.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { newUuid } from '../../../core/util/uuid.ts';

/** Inserts the host row, Enabled and Connecting, with a fresh agent token; rollback removes it. */
export const persistHost: FlowStep<AddHostCtx> = {
  name: 'persist-host',
  async run(ctx, env) {
    const now = Date.now();
    await env.services.db!
      .insertInto('host')
      .values({ uuid: ctx.uuid, zoneUuid: ctx.zoneUuid, clusterUuid: ctx.clusterUuid, name: ctx.name, description: ctx.description ?? null, managementIp: ctx.managementIp, hypervisorType: ctx.hypervisorType, architecture: ctx.architecture ?? null, state: 'Enabled', status: 'Connecting', agentToken: newUuid() + newUuid(), createDate: now, lastOpDate: now })
      .execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('host').where('uuid', '=', ctx.uuid).execute();
  },
};
