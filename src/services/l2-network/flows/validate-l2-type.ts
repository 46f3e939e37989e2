import { L2NetworkTypePoint, type CreateL2NetworkCtx } from '../../../contracts/network.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { l2View } from '../l2-view.ts';

/** The L2 type's backend may refuse the network before anything is written (ZStack's L2NetworkFactory). */
export function validateL2Type(extensions: ExtensionRegistry): FlowStep<CreateL2NetworkCtx> {
  return {
    name: 'validate-l2-type',
    async run(ctx) {
      await extensions.strategy(L2NetworkTypePoint, ctx.type).validateCreate?.(l2View({ ...ctx, createDate: 0 }));
    },
    rollback: noRollback,
  };
}
