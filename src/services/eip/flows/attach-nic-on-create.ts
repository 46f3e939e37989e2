import type { FlowStep } from '../../../core/flow/index.ts';
import { checkNicAttachable } from '../nic-attach.ts';
import type { CreateEipCtx } from './create-eip-chain.ts';

/** CreateEip with vmNicUuid: the NIC's checks, then the row points at it (the persist step's rollback removes the row). The handler holds the NIC's lock. */
export const attachNicOnCreate: FlowStep<CreateEipCtx> = {
  name: 'attach-eip-nic',
  skip: (ctx) => !ctx.vmNicUuid,
  async run(ctx, env) {
    const db = env.services.db!;
    const target = await checkNicAttachable(db, { uuid: ctx.uuid, vipUuid: ctx.vipUuid, vmNicUuid: null }, ctx.vmNicUuid!, ctx.usedIpUuid);
    await db.updateTable('eip').set({ vmNicUuid: target.vmNicUuid, guestIp: target.guestIp }).where('uuid', '=', ctx.uuid).execute();
  },
  async rollback(ctx, env) {
    await env.services.db!.updateTable('eip').set({ vmNicUuid: null, guestIp: null }).where('uuid', '=', ctx.uuid).execute();
  },
};
