import { VipMessages, VipServiceTypes } from '../../../contracts/vip.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { defineChain, type FlowStep } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { attachNicOnCreate } from './attach-nic-on-create.ts';

export interface CreateEipCtx {
  uuid: string;
  name: string;
  description?: string;
  vipUuid: string;
  /** CreateEip with a NIC: attached once the row exists (attach-nic-on-create.ts). */
  vmNicUuid?: string;
  usedIpUuid?: string;
  systemTags?: string[];
  userTags?: string[];
  vipIp?: string;
  acquired?: boolean;
  persisted?: boolean;
}

/** The VIP service records the EIP as the VIP's user (refusing a VIP already used); rollback gives it back. */
export const acquireVip: FlowStep<CreateEipCtx> = {
  name: 'acquire-vip',
  async run(ctx, env) {
    ctx.acquired = true; // write-ahead: a crash after the VIP's answer still releases it
    await env.checkpoint();
    const vip = await env.services.bus!.call<{ ip: string }>('vip', VipMessages.acquire, { vipUuid: ctx.vipUuid, serviceType: VipServiceTypes.eip, serviceUuid: ctx.uuid }, { resourceUuid: ctx.vipUuid });
    ctx.vipIp = vip.ip;
  },
  async rollback(ctx, env) {
    if (ctx.acquired) await env.services.bus!.call('vip', VipMessages.release, { vipUuid: ctx.vipUuid, serviceType: VipServiceTypes.eip, serviceUuid: ctx.uuid }, { resourceUuid: ctx.vipUuid });
  },
};

export const persistEip: FlowStep<CreateEipCtx> = {
  name: 'persist-eip',
  async run(ctx, env) {
    if (!ctx.vipIp) throw new StratoError(SysErrors.INTERNAL, 'the VIP was not acquired');
    const now = Date.now();
    await env.services.db!.insertInto('eip').values({ uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, vipUuid: ctx.vipUuid, vmNicUuid: null, vipIp: ctx.vipIp, guestIp: null, state: 'Enabled', createDate: now, lastOpDate: now }).execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('eip').where('uuid', '=', ctx.uuid).execute();
  },
};

/** `eip.create`: acquire the VIP, write the row and tags; a failure gives the VIP back. */
export const createEipChain = defineChain<CreateEipCtx>('eip.create', [acquireVip, persistEip, attachNicOnCreate, createTagsStep<CreateEipCtx>('EipVO')]);
