import { AfterL2NetworkPersisted, type CreateL2NetworkCtx } from '../../../contracts/network.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { checkL2Parent } from './check-l2-parent.ts';
import { persistL2 } from './persist-l2.ts';
import { validateL2Type } from './validate-l2-type.ts';

/** `l2.create`: check the zone (and pool), let the type's backend validate, insert (allocating a VNI), tags, plugin steps. */
export function createL2Chain(extensions: ExtensionRegistry): FlowChain<CreateL2NetworkCtx> {
  return defineChain<CreateL2NetworkCtx>('l2.create', [checkL2Parent, validateL2Type(extensions), persistL2, createTagsStep<CreateL2NetworkCtx>('L2NetworkVO'), AfterL2NetworkPersisted]);
}
