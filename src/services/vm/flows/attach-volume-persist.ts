import type { AttachDataVolumeCtx } from '../../../contracts/vm-volume.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/**
 * Records the attachment by one conditional update: the volume must still be on no VM, Ready at the
 * install path the host was given (a concurrent attach of the same volume loses here and rolls back).
 */
export const attachVolumePersist: FlowStep<AttachDataVolumeCtx> = {
  name: 'persist-attachment',
  async run(ctx, env) {
    const r = await env.services.db!.updateTable('volume')
      .set({ vmInstanceUuid: ctx.vmUuid, deviceId: ctx.deviceId!, lastOpDate: Date.now() })
      .where('uuid', '=', ctx.volumeUuid).where('vmInstanceUuid', 'is', null).where('status', '=', 'Ready').where('installPath', '=', ctx.installPath!)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${ctx.volumeUuid} was attached to another VM or changed while it was being attached to VM ${ctx.vmUuid}`);
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.updateTable('volume').set({ vmInstanceUuid: null, deviceId: null, lastOpDate: Date.now() }).where('uuid', '=', ctx.volumeUuid).where('vmInstanceUuid', '=', ctx.vmUuid).execute();
  },
};
