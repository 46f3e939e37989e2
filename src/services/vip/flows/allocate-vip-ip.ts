import { L3NetworkMessages, type AllocateIpRequest, type UsedIpView } from '../../../contracts/network.ts';
import { VIP_IP_USED_FOR, type CreateVipCtx } from '../../../contracts/vip.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Takes the VIP's address from the L3 network's IPAM (usedFor=Vip); rollback gives it back. */
export const allocateVipIp: FlowStep<CreateVipCtx> = {
  name: 'allocate-vip-ip',
  async run(ctx, env) {
    const req: AllocateIpRequest = { l3NetworkUuid: ctx.l3NetworkUuid, requiredIp: ctx.requiredIp, ipRangeUuid: ctx.ipRangeUuid, allocatorStrategy: ctx.allocatorStrategy as AllocateIpRequest['allocatorStrategy'], usedFor: VIP_IP_USED_FOR };
    const ip = await env.services.bus!.call<UsedIpView>('l3Network', L3NetworkMessages.allocateIp, req, { resourceUuid: ctx.l3NetworkUuid });
    ctx.usedIp = { uuid: ip.uuid, ip: ip.ip, ipRangeUuid: ip.ipRangeUuid, gateway: ip.gateway, netmask: ip.netmask };
  },
  async rollback(ctx, env) {
    if (ctx.usedIp) await env.services.bus!.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: ctx.usedIp.uuid }, { resourceUuid: ctx.l3NetworkUuid });
  },
};
