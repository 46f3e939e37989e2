import type { AttachDataVolumeCtx } from '../../../contracts/vm-volume.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** The lowest device id no volume of the VM has (0 is the root volume's); recorded on the volume by the persist step. */
export const attachVolumeDeviceId: FlowStep<AttachDataVolumeCtx> = {
  name: 'assign-device-id',
  async run(ctx, env) {
    const used = new Set((await env.services.db!.selectFrom('volume').select('deviceId').where('vmInstanceUuid', '=', ctx.vmUuid).execute()).map((r) => Number(r.deviceId)));
    let id = 1;
    while (used.has(id)) id++;
    ctx.deviceId = id;
  },
  rollback(ctx) {
    delete ctx.deviceId;
  },
};
