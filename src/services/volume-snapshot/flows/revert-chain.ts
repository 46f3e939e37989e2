import type { Kysely } from 'kysely';
import { defineChain, type FlowChain, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { backendFor, bitsOf, type RevertSnapshotCtx } from './snapshot-ctx.ts';

/**
 * `volume-snapshot.revert`: the storage gives the volume the snapshot's content, then the snapshot
 * becomes the latest of the volume (and its tree the current one), so the next snapshot starts a new
 * branch under it. The capacity does not change: the volume keeps its size.
 */
export function revertSnapshotChain(deps: { db: Kysely<any>; extensions: ExtensionRegistry }): FlowChain<RevertSnapshotCtx> {
  const revert: FlowStep<RevertSnapshotCtx> = {
    name: 'revert-volume',
    async run(ctx) {
      await backendFor(deps.extensions, ctx.ps).revertVolume(ctx.ps, ctx.volume, bitsOf(ctx.snapshot));
    },
    // The volume's discarded content cannot come back; a backend that fails here changed nothing.
    rollback() {},
  };

  const commit: FlowStep<RevertSnapshotCtx> = {
    name: 'commit-revert',
    async run(ctx) {
      const now = Date.now();
      const s = ctx.snapshot;
      await deps.db.transaction().execute(async (tx) => {
        await tx.updateTable('volume_snapshot').set({ latest: false, lastOpDate: now }).where('volumeUuid', '=', s.volumeUuid).where('latest', '=', true).execute();
        await tx.updateTable('volume_snapshot').set({ latest: true, lastOpDate: now }).where('uuid', '=', s.uuid).execute();
        await tx.updateTable('volume_snapshot_tree').set({ current: false, lastOpDate: now }).where('volumeUuid', '=', s.volumeUuid).where('uuid', '!=', s.treeUuid).execute();
        await tx.updateTable('volume_snapshot_tree').set({ current: true, lastOpDate: now }).where('uuid', '=', s.treeUuid).execute();
      });
    },
    rollback() {},
  };

  return defineChain<RevertSnapshotCtx>('volume-snapshot.revert', [revert, commit]);
}
