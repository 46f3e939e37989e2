import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply } from '../../../contracts/primary-storage.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { InstantiateVolumeCtx } from './volume-ctx.ts';

/** Reserves the volume's size on the given storage, or on one attached to the given cluster; rollback gives it back. */
export const allocateSpace: FlowStep<InstantiateVolumeCtx> = {
  name: 'allocate-space',
  async run(ctx, env) {
    const reply = await env.services.bus!.call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: ctx.size, primaryStorageUuid: ctx.primaryStorageUuid, clusterUuid: ctx.clusterUuid });
    ctx.allocated = reply;
    await env.checkpoint();
  },
  async rollback(ctx, env) {
    if (!ctx.allocated) return;
    await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: ctx.allocated.primaryStorageUuid, charged: ctx.allocated.charged });
  },
};
