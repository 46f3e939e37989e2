import { AfterInstanceOfferingPersisted, type CreateInstanceOfferingCtx } from '../../../contracts/offering.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { persistInstanceOffering } from './persist-instance-offering.ts';

/** `instance-offering.create`: the row, its tags, then plugin steps; any failure undoes all of it. */
export const createInstanceOfferingChain = defineChain<CreateInstanceOfferingCtx>('instance-offering.create', [persistInstanceOffering, createTagsStep<CreateInstanceOfferingCtx>('InstanceOfferingVO'), AfterInstanceOfferingPersisted]);
