import type { FlowStep } from '../../../core/flow/index.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/**
 * Records the host the VM now runs on (the state change itself is the handler's, with its observers).
 * What the row said before is kept in ctx (journaled first), so rollback puts exactly that back.
 */
export const markStarted: FlowStep<StartVmCtx> = {
  name: 'mark-started',
  async run(ctx, env) {
    const db = env.services.db!;
    const h = ctx.host!;
    const row = await db.selectFrom('vm_instance').select(['hostUuid', 'lastHostUuid', 'clusterUuid']).where('uuid', '=', ctx.uuid).executeTakeFirstOrThrow();
    ctx.previousPlacement = { hostUuid: row.hostUuid ?? null, lastHostUuid: row.lastHostUuid ?? null, clusterUuid: row.clusterUuid ?? null };
    await env.checkpoint();
    await db.updateTable('vm_instance').set({ hostUuid: h.hostUuid, lastHostUuid: h.hostUuid, clusterUuid: h.clusterUuid, lastOpDate: Date.now() }).where('uuid', '=', ctx.uuid).execute();
  },
  async rollback(ctx, env) {
    if (!ctx.previousPlacement) return;
    await env.services.db!.updateTable('vm_instance').set({ ...ctx.previousPlacement, lastOpDate: Date.now() }).where('uuid', '=', ctx.uuid).execute();
  },
};
