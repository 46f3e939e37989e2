import { AfterZonePersisted, type CreateZoneCtx } from '../../../contracts/zone.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { persistZone } from './persist-zone.ts';

/** `zone.create`: the row, its tags, then whatever plugins insert; any failure undoes all of it. */
export const createZoneChain = defineChain<CreateZoneCtx>('zone.create', [persistZone, createTagsStep<CreateZoneCtx>('ZoneVO'), AfterZonePersisted]);
