import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { allocateSpace } from './allocate-space.ts';
import { createBits } from './create-bits.ts';
import { markReady } from './mark-ready.ts';
import { persistVolume } from './persist-volume.ts';
import type { CreateDataVolumeCtx, InstantiateVolumeCtx } from './volume-ctx.ts';

/**
 * `volume.instantiate`: space, bits, Ready (also what attaching a NotInstantiated volume will run).
 * `volume.createData`: the row and tags, then the instantiate chain when a primary storage was named;
 * a failure anywhere leaves no row and the storage's capacity as it was.
 */
export function volumeChains(): { instantiate: FlowChain<InstantiateVolumeCtx>; createData: FlowChain<CreateDataVolumeCtx> } {
  const instantiate = defineChain<InstantiateVolumeCtx>('volume.instantiate', [allocateSpace, createBits, markReady]);
  const instantiateIfPlaced = defineChain<CreateDataVolumeCtx>('volume.createData.instantiate', [allocateSpace, createBits, markReady], { skip: (c) => !c.primaryStorageUuid });
  const createData = defineChain<CreateDataVolumeCtx>('volume.createData', [persistVolume, createTagsStep<CreateDataVolumeCtx>('VolumeVO'), instantiateIfPlaced]);
  return { instantiate, createData };
}
