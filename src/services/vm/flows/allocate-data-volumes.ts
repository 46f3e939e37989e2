import type { CreateVmCtx } from '../../../contracts/vm.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { makeVolume, undoVolume } from './vm-volumes.ts';

/** One empty data volume per data disk offering, on a primary storage of the host's cluster. */
export const allocateDataVolumes: FlowStep<CreateVmCtx> = {
  name: 'allocate-data-volumes',
  skip: (ctx) => ctx.dataVolumes.length === 0,
  async run(ctx, env) {
    const services = { db: env.services.db!, bus: env.services.bus! };
    for (const v of ctx.dataVolumes) {
      await makeVolume(services, v, { vmUuid: ctx.uuid, type: 'Data', name: `DATA-for-${ctx.name}`, clusterUuid: ctx.host!.clusterUuid, hostUuid: ctx.host!.hostUuid }, () => env.checkpoint());
    }
  },
  async rollback(ctx, env) {
    for (const v of [...ctx.dataVolumes].reverse()) await undoVolume({ db: env.services.db!, bus: env.services.bus! }, v);
  },
};
