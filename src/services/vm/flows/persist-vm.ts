import type { CreateVmCtx } from '../../../contracts/vm.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { insertRow } from './hot-sql.ts';

/** Inserts the VM as Created (ZStack's first state); rollback removes the row. */
export const persistVm: FlowStep<CreateVmCtx> = {
  name: 'persist-vm',
  async run(ctx, env) {
    const now = Date.now();
    await insertRow(env.services.db!, 'vm_instance', {
      uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, zoneUuid: ctx.zoneUuid, clusterUuid: null, hostUuid: null, lastHostUuid: null,
      imageUuid: ctx.imageUuid, instanceOfferingUuid: ctx.instanceOfferingUuid ?? null, rootVolumeUuid: null, defaultL3NetworkUuid: ctx.defaultL3NetworkUuid,
      type: 'UserVm', hypervisorType: null, memorySize: ctx.memorySize, cpuNum: ctx.cpuNum, cpuSpeed: ctx.cpuSpeed, allocatorStrategy: ctx.allocatorStrategy ?? null,
      platform: ctx.platform, architecture: ctx.architecture, guestOsType: ctx.guestOsType, state: 'Created', createDate: now, lastOpDate: now,
    });
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('vm_instance').where('uuid', '=', ctx.uuid).execute();
  },
};
