import { AfterL3NetworkPersisted, type CreateL3NetworkCtx } from '../../../contracts/network.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { checkL2ForL3 } from './check-l2-for-l3.ts';
import { persistL3 } from './persist-l3.ts';

/** `l3.create`: check the L2 network, insert the row, tags, plugin steps. */
export const createL3Chain = defineChain<CreateL3NetworkCtx>('l3.create', [checkL2ForL3, persistL3, createTagsStep<CreateL3NetworkCtx>('L3NetworkVO'), AfterL3NetworkPersisted]);
