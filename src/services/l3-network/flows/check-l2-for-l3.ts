import type { CreateL3NetworkCtx } from '../../../contracts/network.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** The L2 network must exist; the L3 network takes its zone. A VXLAN pool carries no L3 network. */
export const checkL2ForL3: FlowStep<CreateL3NetworkCtx> = {
  name: 'check-l2',
  async run(ctx, env) {
    const l2 = await env.services.db!.selectFrom('l2_network').select(['uuid', 'zoneUuid', 'type']).where('uuid', '=', ctx.l2NetworkUuid).executeTakeFirst();
    if (!l2) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L2Network[uuid:${ctx.l2NetworkUuid}]`);
    if (l2.type === 'VxlanNetworkPool') throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `${ctx.l2NetworkUuid} is a VXLAN pool: create the L3 network on one of its VXLAN networks`);
    ctx.zoneUuid = l2.zoneUuid as string;
  },
  rollback: noRollback,
};
