import type { CreateVmCtx } from '../../../contracts/vm.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { updateByUuid } from './hot-sql.ts';
import { makeVolume, undoVolume } from './vm-volumes.ts';

/** The root volume, made from the image on a primary storage of the host's cluster (or the one named). */
export const allocateRootVolume: FlowStep<CreateVmCtx> = {
  name: 'allocate-root-volume',
  async run(ctx, env) {
    const services = { db: env.services.db!, bus: env.services.bus! };
    await makeVolume(services, ctx.rootVolume, {
      vmUuid: ctx.uuid, type: 'Root', name: `ROOT-for-${ctx.name}`, imageUuid: ctx.imageUuid, primaryStorageUuid: ctx.primaryStorageUuidForRootVolume,
      clusterUuid: ctx.host!.clusterUuid, hostUuid: ctx.host!.hostUuid,
    }, () => env.checkpoint());
    await updateByUuid(services.db, 'vm_instance', { rootVolumeUuid: ctx.rootVolume.uuid, lastOpDate: Date.now() }, ctx.uuid);
  },
  async rollback(ctx, env) {
    await env.services.db!.updateTable('vm_instance').set({ rootVolumeUuid: null }).where('uuid', '=', ctx.uuid).execute();
    await undoVolume({ db: env.services.db!, bus: env.services.bus! }, ctx.rootVolume);
  },
};
