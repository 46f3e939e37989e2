import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type InstantiatedVolume } from '../../../contracts/primary-storage.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { InstantiateVolumeCtx } from './volume-ctx.ts';

/** The storage makes the volume (empty, or from an image through its cache); rollback deletes what it made. */
export const createBits: FlowStep<InstantiateVolumeCtx> = {
  name: 'create-bits',
  async run(ctx, env) {
    const psUuid = ctx.allocated!.primaryStorageUuid;
    ctx.instantiated = await env.services.bus!.call<InstantiatedVolume>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.instantiateVolume, { primaryStorageUuid: psUuid, volumeUuid: ctx.uuid, size: ctx.size, format: ctx.format, hostUuid: ctx.hostUuid, imageUuid: ctx.imageUuid });
  },
  async rollback(ctx, env) {
    if (!ctx.allocated || !ctx.instantiated) return;
    await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.deleteVolume, { primaryStorageUuid: ctx.allocated.primaryStorageUuid, volumeUuid: ctx.uuid, installPath: ctx.instantiated.installPath });
  },
};
