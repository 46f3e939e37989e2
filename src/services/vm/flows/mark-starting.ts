import type { FlowStep } from '../../../core/flow/index.ts';
import { changeVmState, loadVm } from '../vm-store.ts';
import type { VmStateDeps } from './record-on-target.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/** Starting (observers told) inside the chain, so a node dying mid-start has the state given back by recovery too. */
export function markStarting(deps: VmStateDeps): FlowStep<StartVmCtx> {
  return {
    name: 'mark-starting',
    async run(ctx, env) {
      const db = env.services.db!;
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, await loadVm(db, ctx.uuid), 'Starting');
    },
    async rollback(ctx, env) {
      const db = env.services.db!;
      const vm = await loadVm(db, ctx.uuid);
      if (vm.state === 'Starting') await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, vm, ctx.previousState);
    },
  };
}
