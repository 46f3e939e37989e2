import { VmVolumeAgentPaths, type AttachDataVolumeCtx } from '../../../contracts/vm-volume.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { callHostAgent } from '../vm-agent.ts';
import type { VmFlowDeps } from './start-on-host.ts';

export const volumeOnHost = (ctx: AttachDataVolumeCtx) => ({ uuid: ctx.volumeUuid, installPath: ctx.installPath, deviceId: ctx.deviceId, format: ctx.format, primaryStorageUuid: ctx.primaryStorageUuid });

/** A Running VM's host plugs the volume in (`/vm/attachdatavolume`); rollback unplugs it. A Stopped VM gets it at its next start. */
export function attachVolumeOnHost(deps: VmFlowDeps): FlowStep<AttachDataVolumeCtx> {
  return {
    name: 'attach-on-host',
    skip: (ctx) => ctx.vmState !== 'Running',
    async run(ctx, env) {
      ctx.attachSent = true;
      await env.checkpoint();
      await callHostAgent({ db: env.services.db!, ...deps }, ctx.hostUuid!, VmVolumeAgentPaths.attach, { vmInstanceUuid: ctx.vmUuid, volume: volumeOnHost(ctx) });
    },
    async rollback(ctx, env) {
      if (!ctx.attachSent) return;
      await callHostAgent({ db: env.services.db!, ...deps }, ctx.hostUuid!, VmVolumeAgentPaths.detach, { vmInstanceUuid: ctx.vmUuid, volume: volumeOnHost(ctx) });
    },
  };
}
