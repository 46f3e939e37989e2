import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import type { StartVmCtx } from './start-vm-ctx.ts';

/** Records the host the VM now runs on (the state change itself is the handler's, with its observers). */
export const markStarted: FlowStep<StartVmCtx> = {
  name: 'mark-started',
  async run(ctx, env) {
    const h = ctx.host!;
    await env.services.db!.updateTable('vm_instance').set({ hostUuid: h.hostUuid, lastHostUuid: h.hostUuid, clusterUuid: h.clusterUuid, lastOpDate: Date.now() }).where('uuid', '=', ctx.uuid).execute();
  },
  rollback: noRollback,
};
