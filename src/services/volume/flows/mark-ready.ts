import type { FlowStep } from '../../../core/flow/index.ts';
import type { InstantiateVolumeCtx } from './volume-ctx.ts';

/** Records where the volume lives and makes it Ready; rollback makes it NotInstantiated again. */
export const markReady: FlowStep<InstantiateVolumeCtx> = {
  name: 'mark-ready',
  async run(ctx, env) {
    const v = ctx.instantiated!;
    await env.services.db!
      .updateTable('volume')
      .set({ primaryStorageUuid: ctx.allocated!.primaryStorageUuid, installPath: v.installPath, actualSize: v.actualSize, format: v.format, charged: ctx.allocated!.charged, status: 'Ready', lastOpDate: Date.now() })
      .where('uuid', '=', ctx.uuid)
      .execute();
  },
  async rollback(ctx, env) {
    await env.services.db!
      .updateTable('volume')
      .set({ primaryStorageUuid: null, installPath: null, actualSize: 0, charged: 0, status: 'NotInstantiated', lastOpDate: Date.now() })
      .where('uuid', '=', ctx.uuid)
      .execute();
  },
};
