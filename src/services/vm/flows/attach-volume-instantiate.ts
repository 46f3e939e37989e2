import type { AttachDataVolumeCtx } from '../../../contracts/vm-volume.ts';
import { VOLUME_SERVICE, VolumeMessages, type VolumeView } from '../../../contracts/volume.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/**
 * A NotInstantiated volume is made on a primary storage of the VM's cluster (reachable from its host)
 * by the volume service; rollback asks it to take that back. A Ready volume is only recorded.
 */
export const attachVolumeInstantiate: FlowStep<AttachDataVolumeCtx> = {
  name: 'instantiate-volume',
  async run(ctx, env) {
    const bus = env.services.bus!;
    const row = await env.services.db!.selectFrom('volume').select(['status', 'format']).where('uuid', '=', ctx.volumeUuid).executeTakeFirstOrThrow();
    if (row.status === 'NotInstantiated') {
      ctx.instantiating = true;
      ctx.formerFormat = (row.format as string | null) ?? null;
      await env.checkpoint();
    }
    const v = await bus.call<VolumeView>(VOLUME_SERVICE, VolumeMessages.instantiate, { uuid: ctx.volumeUuid, clusterUuid: ctx.clusterUuid, hostUuid: ctx.hostUuid ?? undefined }, { resourceUuid: ctx.volumeUuid });
    Object.assign(ctx, { installPath: v.installPath ?? undefined, primaryStorageUuid: v.primaryStorageUuid ?? undefined, format: v.format ?? undefined });
  },
  async rollback(ctx, env) {
    if (!ctx.instantiating) return;
    // Before the reply was journaled the install path is only in the row; the volume service checks it is still unattached.
    const installPath = ctx.installPath ?? ((await env.services.db!.selectFrom('volume').select('installPath').where('uuid', '=', ctx.volumeUuid).executeTakeFirst())?.installPath as string | null | undefined);
    if (!installPath) return;
    await env.services.bus!.call(VOLUME_SERVICE, VolumeMessages.uninstantiate, { uuid: ctx.volumeUuid, installPath, format: ctx.formerFormat }, { resourceUuid: ctx.volumeUuid });
  },
};
