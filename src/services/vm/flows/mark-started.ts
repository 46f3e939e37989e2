import type { FlowStep } from '../../../core/flow/index.ts';
import { changeVmState, loadVm } from '../vm-store.ts';
import type { VmStateDeps } from './record-on-target.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/**
 * Running on the host it got (observers told). What the row said before is kept in ctx (journaled
 * first), so rollback puts exactly that back, Starting until mark-starting's rollback gives the state back.
 */
export function markStarted(deps: VmStateDeps): FlowStep<StartVmCtx> {
  return {
    name: 'mark-started',
    async run(ctx, env) {
      const db = env.services.db!;
      const h = ctx.host!;
      const vm = await loadVm(db, ctx.uuid);
      ctx.previousPlacement = { hostUuid: vm.hostUuid ?? null, lastHostUuid: vm.lastHostUuid ?? null, clusterUuid: vm.clusterUuid ?? null };
      await env.checkpoint();
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, vm, 'Running', { hostUuid: h.hostUuid, lastHostUuid: h.hostUuid, clusterUuid: h.clusterUuid });
    },
    async rollback(ctx, env) {
      if (!ctx.previousPlacement) return;
      const db = env.services.db!;
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, await loadVm(db, ctx.uuid), 'Starting', ctx.previousPlacement);
    },
  };
}
