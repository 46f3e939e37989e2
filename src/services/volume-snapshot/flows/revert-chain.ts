import type { Kysely } from 'kysely';
import { defineChain, type FlowChain, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { backendFor, bitsOf, type RevertSnapshotCtx } from './snapshot-ctx.ts';

/**
 * `volume-snapshot.revert`: the snapshot becomes the latest of the volume (and its tree the current
 * one), so the next snapshot starts a new branch under it; then the storage gives the volume the
 * snapshot's content. That rewrite cannot be undone, so it comes last: a storage failing it changed
 * nothing and the commit is rolled back; once it began, nothing before it is undone (the database
 * keeps telling the truth). The capacity does not change: the volume keeps its size.
 */
export function revertSnapshotChain(deps: { db: Kysely<any>; extensions: ExtensionRegistry }): FlowChain<RevertSnapshotCtx> {
  const commit: FlowStep<RevertSnapshotCtx> = {
    name: 'commit-revert',
    async run(ctx, env) {
      const s = ctx.snapshot;
      const latest = await deps.db.selectFrom('volume_snapshot').select('uuid').where('volumeUuid', '=', s.volumeUuid).where('latest', '=', true).execute();
      const current = await deps.db.selectFrom('volume_snapshot_tree').select('uuid').where('volumeUuid', '=', s.volumeUuid).where('current', '=', true).execute();
      ctx.saved = { latest: latest.map((r) => r.uuid as string), current: current.map((r) => r.uuid as string) };
      await env.checkpoint();
      await setPoint(deps.db, s.volumeUuid, [s.uuid], [s.treeUuid]);
    },
    async rollback(ctx) {
      if (ctx.reverting || !ctx.saved) return;
      await setPoint(deps.db, ctx.snapshot.volumeUuid, ctx.saved.latest, ctx.saved.current);
    },
  };

  const revert: FlowStep<RevertSnapshotCtx> = {
    name: 'revert-volume',
    async run(ctx, env) {
      ctx.reverting = true;
      await env.checkpoint();
      try {
        await backendFor(deps.extensions, ctx.ps).revertVolume(ctx.ps, ctx.volume, bitsOf(ctx.snapshot));
      } catch (e) {
        // A backend that fails here changed nothing: the commit can still be undone.
        ctx.reverting = false;
        throw e;
      }
    },
    // The volume's discarded content cannot come back.
    rollback() {},
  };

  return defineChain<RevertSnapshotCtx>('volume-snapshot.revert', [commit, revert]);
}

/** Makes exactly these the volume's latest snapshots and current trees, in one transaction. */
async function setPoint(db: Kysely<any>, volumeUuid: string, latest: string[], current: string[]): Promise<void> {
  const now = Date.now();
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('volume_snapshot').set({ latest: false, lastOpDate: now }).where('volumeUuid', '=', volumeUuid).where('latest', '=', true).execute();
    if (latest.length) await tx.updateTable('volume_snapshot').set({ latest: true, lastOpDate: now }).where('uuid', 'in', latest).execute();
    await tx.updateTable('volume_snapshot_tree').set({ current: false, lastOpDate: now }).where('volumeUuid', '=', volumeUuid).where('current', '=', true).execute();
    if (current.length) await tx.updateTable('volume_snapshot_tree').set({ current: true, lastOpDate: now }).where('uuid', 'in', current).execute();
  });
}
