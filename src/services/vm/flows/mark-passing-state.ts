import type { VmState } from '../../../contracts/vm.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { changeVmState, loadVm } from '../vm-store.ts';
import type { VmStateDeps } from './record-on-target.ts';

/**
 * A chain's first step puts the VM in a passing state (Starting, Migrating; observers told) inside the
 * chain, so a node dying mid-way has the state given back by recovery too. The rollback restores the
 * state the VM had before, unless a later step already moved it on.
 */
export function markPassingState<Ctx extends { uuid: string }>(name: string, state: VmState, previousOf: (ctx: Ctx) => VmState, deps: VmStateDeps): FlowStep<Ctx> {
  return {
    name,
    async run(ctx, env) {
      const db = env.services.db!;
      await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, await loadVm(db, ctx.uuid), state);
    },
    async rollback(ctx, env) {
      const db = env.services.db!;
      const vm = await loadVm(db, ctx.uuid);
      if (vm.state === state) await changeVmState({ db, bus: env.services.bus!, extensions: deps.extensions }, vm, previousOf(ctx));
    },
  };
}
