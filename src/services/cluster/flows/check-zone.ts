import type { CreateClusterCtx } from '../../../contracts/cluster.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** The parent zone must exist and be Enabled; nothing is changed, so nothing to undo. */
export const checkZone: FlowStep<CreateClusterCtx> = {
  name: 'check-zone',
  async run(ctx, env) {
    const zone = await env.services.db!.selectFrom('zone').select(['uuid', 'state']).where('uuid', '=', ctx.zoneUuid).executeTakeFirst();
    if (!zone) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Zone[uuid:${ctx.zoneUuid}]`);
    if (zone.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `zone ${ctx.zoneUuid} is ${zone.state}: clusters can only be created in an Enabled zone`);
  },
  rollback: noRollback,
};
