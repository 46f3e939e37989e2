import { L2NetworkTypes, type CreateL2NetworkCtx } from '../../../contracts/network.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { isUniqueViolation } from '../../../core/db/unique-violation.ts';
import { pickFreeVni } from '../vni-allocator.ts';

/**
 * Inserts the L2 row. A VXLAN network without a VNI gets the lowest free VNI of its pool's ranges;
 * the UNIQUE (poolUuid, virtualNetworkId) index arbitrates between concurrent creates (possibly on
 * other nodes): the loser picks again. Rollback removes the row.
 */
export const persistL2: FlowStep<CreateL2NetworkCtx> = {
  name: 'persist-l2',
  async run(ctx, env) {
    const db = env.services.db!;
    const requested = ctx.virtualNetworkId;
    for (let attempt = 0; ; attempt++) {
      if (ctx.type === L2NetworkTypes.vxlan) ctx.virtualNetworkId = requested ?? (await pickFreeVni(db, ctx.poolUuid!, attempt));
      const now = Date.now();
      try {
        await db.insertInto('l2_network').values({
          uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, zoneUuid: ctx.zoneUuid, physicalInterface: ctx.physicalInterface, type: ctx.type,
          vSwitchType: ctx.vSwitchType, virtualNetworkId: ctx.virtualNetworkId, isolated: false, pvlan: null, poolUuid: ctx.poolUuid, createDate: now, lastOpDate: now,
        }).execute();
        ctx.persisted = true;
        return;
      } catch (e) {
        if (!isUniqueViolation(e) || ctx.type !== L2NetworkTypes.vxlan) throw e;
        if (requested !== null) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `VNI ${requested} is already used in the VXLAN pool ${ctx.poolUuid}`);
        if (attempt >= 20) throw new StratoError(SysErrors.OPERATION_ERROR, `could not allocate a VNI in the VXLAN pool ${ctx.poolUuid} after ${attempt + 1} attempts`);
      }
    }
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('l2_network').where('uuid', '=', ctx.uuid).execute();
  },
};
