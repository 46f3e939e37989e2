import { isIPv4 } from 'node:net';
import type { CreateVipCtx } from '../../../contracts/vip.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** VIPs live on Public (or System) L3 networks, as ZStack requires; a required IP must be IPv4; a range must be the network's. */
export const checkL3ForVip: FlowStep<CreateVipCtx> = {
  name: 'check-l3-for-vip',
  async run(ctx, env) {
    const db = env.services.db!;
    const l3 = await db.selectFrom('l3_network').select(['uuid', 'category', 'state']).where('uuid', '=', ctx.l3NetworkUuid).executeTakeFirst();
    if (!l3) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L3Network[uuid:${ctx.l3NetworkUuid}]`);
    if (l3.category !== 'Public' && l3.category !== 'System') {
      throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a VIP can only be created on a Public or System L3 network; L3Network[uuid:${ctx.l3NetworkUuid}] is ${l3.category}`);
    }
    if (ctx.requiredIp !== undefined && !isIPv4(ctx.requiredIp)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `requiredIp[${ctx.requiredIp}] is not an IPv4 address`);
    if (ctx.ipRangeUuid) {
      const range = await db.selectFrom('ip_range').select('l3NetworkUuid').where('uuid', '=', ctx.ipRangeUuid).executeTakeFirst();
      if (!range) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find IpRange[uuid:${ctx.ipRangeUuid}]`);
      if (range.l3NetworkUuid !== ctx.l3NetworkUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `IpRange[uuid:${ctx.ipRangeUuid}] is not a range of L3Network[uuid:${ctx.l3NetworkUuid}]`);
    }
  },
  rollback: noRollback,
};
