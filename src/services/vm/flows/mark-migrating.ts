import type { FlowStep } from '../../../core/flow/index.ts';
import { changeVmState, loadVm } from '../vm-store.ts';
import type { MigrateVmCtx } from './migrate-vm-ctx.ts';
import type { VmStateDeps } from './record-on-target.ts';

/** The VM is Migrating (observers told) until recorded on the target; rollback gives it its state back. */
export function markMigrating(deps: VmStateDeps): FlowStep<MigrateVmCtx> {
  return {
    name: 'mark-migrating',
    async run(ctx, env) {
      const db = env.services.db!;
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, await loadVm(db, ctx.uuid), 'Migrating');
    },
    async rollback(ctx, env) {
      const db = env.services.db!;
      const vm = await loadVm(db, ctx.uuid);
      if (vm.state === 'Migrating') await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, vm, ctx.previous.state);
    },
  };
}
