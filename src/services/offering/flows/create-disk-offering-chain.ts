import { AfterDiskOfferingPersisted, type CreateDiskOfferingCtx } from '../../../contracts/offering.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { persistDiskOffering } from './persist-disk-offering.ts';

/** `disk-offering.create`: the row, its tags, then plugin steps; any failure undoes all of it. */
export const createDiskOfferingChain = defineChain<CreateDiskOfferingCtx>('disk-offering.create', [persistDiskOffering, createTagsStep<CreateDiskOfferingCtx>('DiskOfferingVO'), AfterDiskOfferingPersisted]);
