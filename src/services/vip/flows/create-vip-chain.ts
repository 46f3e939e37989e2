import { AfterVipPersisted, type CreateVipCtx } from '../../../contracts/vip.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { allocateVipIp } from './allocate-vip-ip.ts';
import { checkL3ForVip } from './check-l3-for-vip.ts';
import { persistVip } from './persist-vip.ts';

/** `vip.create`: check the L3 network, take an address, write the row and tags; a failure gives the address back. */
export const createVipChain = defineChain<CreateVipCtx>('vip.create', [checkL3ForVip, allocateVipIp, persistVip, createTagsStep<CreateVipCtx>('VipVO'), AfterVipPersisted]);
