import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply } from '../../../contracts/primary-storage.ts';
import { defineChain, type FlowChain, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { backendFor, bitsOf, type DeleteSnapshotCtx } from './snapshot-ctx.ts';

/**
 * `volume-snapshot.delete`: the snapshot's data is merged into each child (a child beyond the first
 * needs room for it; the first inherits the snapshot's own reservation) and into the volume when the
 * volume stands on it; then its bits go and the tree is rewritten in one transaction (children hang
 * from its parent, descendants one hop closer to the root, its parent the latest when it was). A
 * failure before the bits are deleted rebases every merged child back and gives the extra room back.
 */
export function deleteSnapshotChain(deps: { db: Kysely<any>; extensions: ExtensionRegistry }): FlowChain<DeleteSnapshotCtx> {
  const allocate: FlowStep<DeleteSnapshotCtx> = {
    name: 'allocate-merge-space',
    async run(ctx, env) {
      const children = ctx.targets.filter((t) => !t.volume);
      for (let i = 1; i < children.length; i++) {
        ctx.extra.push(await env.services.bus!.call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: ctx.snapshot.size, primaryStorageUuid: ctx.ps.uuid }));
        await env.checkpoint();
      }
    },
    async rollback(ctx, env) {
      for (const a of ctx.extra.splice(0)) await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: a.primaryStorageUuid, charged: a.charged });
    },
  };

  const merge: FlowStep<DeleteSnapshotCtx> = {
    name: 'merge-into-children',
    async run(ctx, env) {
      const backend = backendFor(deps.extensions, ctx.ps);
      for (const t of ctx.targets) {
        const r = await backend.mergeSnapshot(ctx.ps, bitsOf(ctx.snapshot), { uuid: t.uuid, installPath: t.installPath, volume: t.volume });
        t.formerSize = r.formerSize;
        t.newSize = r.size;
        ctx.merged += 1;
        await env.checkpoint();
      }
    },
    async rollback(ctx) {
      const backend = backendFor(deps.extensions, ctx.ps);
      while (ctx.merged > 0) {
        const t = ctx.targets[ctx.merged - 1];
        await backend.rebase(ctx.ps, bitsOf(ctx.snapshot), { uuid: t.uuid, installPath: t.installPath, volume: t.volume, size: t.formerSize ?? 0 });
        ctx.merged -= 1;
      }
    },
  };

  const deleteBits: FlowStep<DeleteSnapshotCtx> = {
    name: 'delete-snapshot-bits',
    async run(ctx) {
      await backendFor(deps.extensions, ctx.ps).deleteSnapshot(ctx.ps, bitsOf(ctx.snapshot));
    },
    // Gone bits cannot come back; a backend that fails here deleted nothing.
    rollback() {},
  };

  const commit: FlowStep<DeleteSnapshotCtx> = {
    name: 'commit-snapshot-deletion',
    async run(ctx, env) {
      const s = ctx.snapshot;
      const now = Date.now();
      const children = ctx.targets.filter((t) => !t.volume);
      await deps.db.transaction().execute(async (tx) => {
        for (const [i, child] of children.entries()) {
          const inherited = i === 0 ? s.charged : ctx.extra[i - 1].charged;
          await tx.updateTable('volume_snapshot').set({ parentUuid: s.parentUuid, size: child.newSize, charged: sql`charged + ${inherited}`, lastOpDate: now }).where('uuid', '=', child.uuid).execute();
        }
        if (ctx.descendants.length > 0) await tx.updateTable('volume_snapshot').set({ distance: sql`distance - 1`, lastOpDate: now }).where('uuid', 'in', ctx.descendants).execute();
        if (s.latest && s.parentUuid) await tx.updateTable('volume_snapshot').set({ latest: true, lastOpDate: now }).where('uuid', '=', s.parentUuid).execute();
        await tx.deleteFrom('volume_snapshot').where('uuid', '=', s.uuid).execute();
        const left = await tx.selectFrom('volume_snapshot').select('uuid').where('treeUuid', '=', s.treeUuid).limit(1).execute();
        if (left.length === 0) await tx.deleteFrom('volume_snapshot_tree').where('uuid', '=', s.treeUuid).execute();
      });
      // With no child to inherit it, the snapshot's reservation goes back to the storage.
      if (children.length === 0 && s.charged > 0) await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: s.primaryStorageUuid, charged: s.charged });
    },
    rollback() {},
  };

  return defineChain<DeleteSnapshotCtx>('volume-snapshot.delete', [allocate, merge, deleteBits, commit]);
}
