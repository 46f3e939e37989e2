import type { CreateVipCtx } from '../../../contracts/vip.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Netmask → prefix length (255.255.255.0 → 24). */
export function prefixLength(netmask: string): number {
  return netmask.split('.').reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, '').length, 0);
}

/** Inserts the VIP row with the allocated address; rollback removes it. */
export const persistVip: FlowStep<CreateVipCtx> = {
  name: 'persist-vip',
  async run(ctx, env) {
    const ip = ctx.usedIp!;
    const now = Date.now();
    await env.services.db!.insertInto('vip').values({
      uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, l3NetworkUuid: ctx.l3NetworkUuid, ipRangeUuid: ip.ipRangeUuid, usedIpUuid: ip.uuid, ip: ip.ip,
      gateway: ip.gateway, netmask: ip.netmask, prefixLen: prefixLength(ip.netmask), state: 'Enabled', serviceProvider: null, useFor: null, system: false, createDate: now, lastOpDate: now,
    }).execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('vip').where('uuid', '=', ctx.uuid).execute();
  },
};
