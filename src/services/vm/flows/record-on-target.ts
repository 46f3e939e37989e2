import type { FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { changeVmState, loadVm } from '../vm-store.ts';
import type { MigrateVmCtx } from './migrate-vm-ctx.ts';

export interface VmStateDeps {
  extensions: ExtensionRegistry;
}

/**
 * The VM runs on the target now: recorded (and its state back) before the source is freed, so a failure
 * freeing it leaves the database telling the truth. Rollback records it on the source again, Migrating
 * until mark-migrating's rollback gives it its state back (observers see every change).
 */
export function recordOnTarget(deps: VmStateDeps): FlowStep<MigrateVmCtx> {
  return {
    name: 'record-on-target',
    async run(ctx, env) {
      const db = env.services.db!;
      const t = ctx.target!;
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, await loadVm(db, ctx.uuid), ctx.previous.state, {
        hostUuid: t.hostUuid, lastHostUuid: ctx.sourceHostUuid, clusterUuid: t.clusterUuid,
      });
    },
    async rollback(ctx, env) {
      const db = env.services.db!;
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, await loadVm(db, ctx.uuid), 'Migrating', {
        hostUuid: ctx.sourceHostUuid, lastHostUuid: ctx.previous.lastHostUuid, clusterUuid: ctx.previous.clusterUuid,
      });
    },
  };
}
