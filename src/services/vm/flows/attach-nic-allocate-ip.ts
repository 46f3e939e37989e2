import { L3NetworkMessages, type UsedIpView } from '../../../contracts/network.ts';
import type { AttachNicCtx } from '../../../contracts/vm-nic.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** An IP of the L3 network from the IPAM (the static one when asked); rollback gives it back. */
export const attachNicAllocateIp: FlowStep<AttachNicCtx> = {
  name: 'attach-nic-allocate-ip',
  async run(ctx, env) {
    const ip = await env.services.bus!.call<UsedIpView>('l3Network', L3NetworkMessages.allocateIp, { l3NetworkUuid: ctx.l3NetworkUuid, requiredIp: ctx.staticIp, vmNicUuid: ctx.nicUuid }, { resourceUuid: ctx.l3NetworkUuid });
    ctx.usedIpUuid = ip.uuid;
    ctx.ip = ip.ip;
    await env.checkpoint();
  },
  async rollback(ctx, env) {
    if (ctx.usedIpUuid) await env.services.bus!.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: ctx.usedIpUuid }, { resourceUuid: ctx.l3NetworkUuid });
  },
};
