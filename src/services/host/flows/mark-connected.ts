import type { ConnectHostCtx } from '../../../contracts/host.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** Last step: the host is Connected. A failed connect is marked Disconnected by the caller, not here. */
export const markConnected: FlowStep<ConnectHostCtx> = {
  name: 'mark-connected',
  async run(ctx, env) {
    await env.services.db!.updateTable('host').set({ status: 'Connected', lastOpDate: Date.now() }).where('uuid', '=', ctx.uuid).execute();
  },
  rollback: noRollback,
};
