import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply } from '../../../contracts/primary-storage.ts';
import type { Kysely } from 'kysely';
import { createTagsStep } from '../../../core/tag/index.ts';
import { defineChain, type FlowChain, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { backendFor, type CreateSnapshotCtx } from './snapshot-ctx.ts';

/**
 * `volume-snapshot.create`: reserve the volume's size on its storage, take the snapshot, record it
 * (a new tree when the volume has no current one; the new snapshot becomes the latest). A failure at
 * any step leaves the capacity, the bits and the tree as they were.
 */
export function createSnapshotChain(deps: { db: Kysely<any>; extensions: ExtensionRegistry }): FlowChain<CreateSnapshotCtx> {
  const allocate: FlowStep<CreateSnapshotCtx> = {
    name: 'allocate-snapshot-space',
    async run(ctx, env) {
      ctx.allocated = await env.services.bus!.call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: ctx.volume.size, primaryStorageUuid: ctx.ps.uuid });
      await env.checkpoint();
    },
    async rollback(ctx, env) {
      if (ctx.allocated) await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: ctx.allocated.primaryStorageUuid, charged: ctx.allocated.charged });
    },
  };

  const take: FlowStep<CreateSnapshotCtx> = {
    name: 'take-snapshot',
    async run(ctx, env) {
      ctx.taken = await backendFor(deps.extensions, ctx.ps).takeSnapshot(ctx.ps, ctx.volume, { uuid: ctx.uuid, parent: ctx.parent });
      await env.checkpoint();
    },
    async rollback(ctx) {
      if (ctx.taken) await backendFor(deps.extensions, ctx.ps).deleteSnapshot(ctx.ps, { snapshotUuid: ctx.uuid, installPath: ctx.taken.installPath, size: ctx.taken.size });
    },
  };

  const persist: FlowStep<CreateSnapshotCtx> = {
    name: 'persist-snapshot',
    async run(ctx) {
      const now = Date.now();
      const taken = ctx.taken!;
      await deps.db.transaction().execute(async (tx) => {
        if (ctx.newTree) {
          await tx.insertInto('volume_snapshot_tree').values({ uuid: ctx.treeUuid, volumeUuid: ctx.volume.uuid, current: true, status: 'Completed', createDate: now, lastOpDate: now }).execute();
        }
        await tx.updateTable('volume_snapshot').set({ latest: false, lastOpDate: now }).where('volumeUuid', '=', ctx.volume.uuid).where('latest', '=', true).execute();
        await tx.insertInto('volume_snapshot').values({
          uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, type: taken.type, volumeUuid: ctx.volume.uuid, treeUuid: ctx.treeUuid,
          parentUuid: ctx.parent?.snapshotUuid ?? null, primaryStorageUuid: ctx.ps.uuid, primaryStorageInstallPath: taken.installPath, volumeType: ctx.volume.type,
          format: taken.format, latest: true, size: taken.size, state: 'Enabled', status: 'Ready', distance: ctx.parent ? ctx.parent.distance + 1 : 0,
          charged: ctx.allocated!.charged, createDate: now, lastOpDate: now,
        }).execute();
      });
    },
    // One transaction: when it fails nothing of it is there; after a crash past the commit, undo it.
    async rollback(ctx) {
      await deps.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('volume_snapshot').where('uuid', '=', ctx.uuid).execute();
        if (ctx.parent) await tx.updateTable('volume_snapshot').set({ latest: true }).where('uuid', '=', ctx.parent.snapshotUuid).execute();
        if (ctx.newTree) await tx.deleteFrom('volume_snapshot_tree').where('uuid', '=', ctx.treeUuid).execute();
      });
    },
  };

  return defineChain<CreateSnapshotCtx>('volume-snapshot.create', [allocate, take, persist, createTagsStep<CreateSnapshotCtx>('VolumeSnapshotVO')]);
}
