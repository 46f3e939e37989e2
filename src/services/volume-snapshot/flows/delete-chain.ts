import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply } from '../../../contracts/primary-storage.ts';
import { defineChain, type FlowChain, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { backendFor, bitsOf, type DeleteSnapshotCtx } from './snapshot-ctx.ts';

/**
 * `volume-snapshot.delete`: the snapshot's data is merged into each child (a child beyond the first
 * needs room for it; the first inherits the snapshot's own reservation) and into the volume when the
 * volume stands on it; the tree is rewritten in one transaction (children hang from its parent,
 * descendants one hop closer to the root, its parent the latest when it was); then its bits go and,
 * with no child to inherit it, its reservation. Deleting bits cannot be undone, so it comes after
 * everything that can: a failure before it rebases every merged child back, restores the tree and
 * gives the extra room back; once it began, nothing is undone (the deletion is finished).
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
      if (ctx.deletingBits) return; // the children keep what they inherited
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
      if (ctx.deletingBits) return; // the merged data is all there is now
      const backend = backendFor(deps.extensions, ctx.ps);
      while (ctx.merged > 0) {
        const t = ctx.targets[ctx.merged - 1];
        await backend.rebase(ctx.ps, bitsOf(ctx.snapshot), { uuid: t.uuid, installPath: t.installPath, volume: t.volume, size: t.formerSize ?? 0 });
        ctx.merged -= 1;
      }
    },
  };

  const commit: FlowStep<DeleteSnapshotCtx> = {
    name: 'commit-snapshot-deletion',
    async run(ctx, env) {
      const s = ctx.snapshot;
      const now = Date.now();
      const children = ctx.targets.filter((t) => !t.volume);
      ctx.saved = {
        snapshots: await deps.db.selectFrom('volume_snapshot').selectAll().where('treeUuid', '=', s.treeUuid).execute(),
        tree: await deps.db.selectFrom('volume_snapshot_tree').selectAll().where('uuid', '=', s.treeUuid).executeTakeFirst(),
      };
      await env.checkpoint();
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
    },
    // The tree's rows as they were, in one transaction (a commit that never happened is restored to itself).
    async rollback(ctx) {
      const saved = ctx.saved;
      if (ctx.deletingBits || !saved) return;
      await deps.db.transaction().execute(async (tx) => {
        if (saved.tree && !(await tx.selectFrom('volume_snapshot_tree').select('uuid').where('uuid', '=', saved.tree.uuid as string).executeTakeFirst())) {
          await tx.insertInto('volume_snapshot_tree').values(saved.tree).execute();
        }
        const uuids = saved.snapshots.map((r) => r.uuid as string);
        if (uuids.length) {
          await tx.deleteFrom('volume_snapshot').where('uuid', 'in', uuids).execute();
          await tx.insertInto('volume_snapshot').values(saved.snapshots).execute();
        }
      });
    },
  };

  const deleteBits: FlowStep<DeleteSnapshotCtx> = {
    name: 'delete-snapshot-bits',
    async run(ctx, env) {
      ctx.deletingBits = true;
      await env.checkpoint();
      try {
        await backendFor(deps.extensions, ctx.ps).deleteSnapshot(ctx.ps, bitsOf(ctx.snapshot));
      } catch (e) {
        // A backend that fails here deleted nothing: everything before can still be undone.
        ctx.deletingBits = false;
        throw e;
      }
    },
    // Gone bits cannot come back.
    rollback() {},
  };

  const release: FlowStep<DeleteSnapshotCtx> = {
    name: 'release-snapshot-space',
    async run(ctx, env) {
      // With no child to inherit it, the snapshot's reservation goes back to the storage.
      const s = ctx.snapshot;
      if (ctx.targets.some((t) => !t.volume) || s.charged <= 0) return;
      await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: s.primaryStorageUuid, charged: s.charged });
    },
    // Past the bits' deletion: nothing is undone (a failure here leaves the reservation held, never a broken tree).
    rollback() {},
  };

  return defineChain<DeleteSnapshotCtx>('volume-snapshot.delete', [allocate, merge, commit, deleteBits, release]);
}
