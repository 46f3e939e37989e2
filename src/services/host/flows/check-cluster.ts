import type { AddHostCtx } from '../../../contracts/host.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** The cluster must exist and be of the host's hypervisor type; a management IP belongs to one host. */
export const checkCluster: FlowStep<AddHostCtx> = {
  name: 'check-cluster',
  async run(ctx, env) {
    const db = env.services.db!;
    const cluster = await db.selectFrom('cluster').select(['uuid', 'zoneUuid', 'hypervisorType', 'architecture']).where('uuid', '=', ctx.clusterUuid).executeTakeFirst();
    if (!cluster) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Cluster[uuid:${ctx.clusterUuid}]`);
    if (cluster.hypervisorType !== ctx.hypervisorType) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `cluster ${ctx.clusterUuid} is of hypervisor type ${cluster.hypervisorType}, not ${ctx.hypervisorType}`);
    const taken = await db.selectFrom('host').select('uuid').where('managementIp', '=', ctx.managementIp).executeTakeFirst();
    if (taken) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `there has been a host having managementIp ${ctx.managementIp}`);
    ctx.zoneUuid = cluster.zoneUuid as string;
    ctx.architecture = (cluster.architecture as string | null) ?? null;
  },
  rollback: noRollback,
};
