import { L2NetworkTypes, type CreateL2NetworkCtx } from '../../../contracts/network.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import { vniInPool } from '../vni-allocator.ts';

/**
 * The zone must exist; a VXLAN network's pool must exist and be a pool, and gives the network its
 * zone (ZStack makes zoneUuid optional for VXLAN networks). Nothing is changed.
 */
export const checkL2Parent: FlowStep<CreateL2NetworkCtx> = {
  name: 'check-l2-parent',
  async run(ctx, env) {
    const db = env.services.db!;
    const zoneExists = async (uuid: string) => (await db.selectFrom('zone').select('uuid').where('uuid', '=', uuid).executeTakeFirst()) !== undefined;
    if (ctx.zoneUuid && !(await zoneExists(ctx.zoneUuid))) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Zone[uuid:${ctx.zoneUuid}]`);
    if (ctx.type === L2NetworkTypes.vxlan) {
      const pool = await db.selectFrom('l2_network').select(['uuid', 'type', 'zoneUuid', 'physicalInterface']).where('uuid', '=', ctx.poolUuid!).executeTakeFirst();
      if (!pool || pool.type !== L2NetworkTypes.vxlanPool) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L2VxlanNetworkPool[uuid:${ctx.poolUuid}]`);
      if (ctx.zoneUuid && ctx.zoneUuid !== pool.zoneUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the VXLAN pool ${ctx.poolUuid} is in zone ${pool.zoneUuid}, not ${ctx.zoneUuid}`);
      ctx.zoneUuid = pool.zoneUuid as string;
      ctx.physicalInterface ??= (pool.physicalInterface as string | null) ?? null;
      if (ctx.virtualNetworkId !== null && !(await vniInPool(db, ctx.poolUuid!, ctx.virtualNetworkId))) {
        throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `VNI ${ctx.virtualNetworkId} is in no VNI range of the VXLAN pool ${ctx.poolUuid}`);
      }
    }
    if (!(await zoneExists(ctx.zoneUuid))) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Zone[uuid:${ctx.zoneUuid}]`);
  },
  rollback: noRollback,
};
