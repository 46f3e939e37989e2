import type { AttachNicCtx } from '../../../contracts/vm-nic.ts';
import { VmNicAgentPaths } from '../../../contracts/vm-nic.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { callHostAgent } from '../vm-agent.ts';
import type { VmFlowDeps } from './start-on-host.ts';

/** The NIC as the agent receives it (ZStack's NicTO, abridged). */
export async function nicCommand(db: import('kysely').Kysely<any>, nicUuid: string): Promise<Record<string, unknown>> {
  return db.selectFrom('vm_nic').select(['uuid', 'mac', 'ip', 'netmask', 'gateway', 'l3NetworkUuid', 'deviceId', 'internalName']).where('uuid', '=', nicUuid).executeTakeFirstOrThrow();
}

/** `/vm/attachnic` on the VM's host when it is Running (skipped when Stopped); rollback unplugs it. */
export function attachNicOnHost(deps: VmFlowDeps): FlowStep<AttachNicCtx> {
  return {
    name: 'attach-nic-on-host',
    skip: (ctx) => !ctx.hostUuid,
    async run(ctx, env) {
      const services = { db: env.services.db!, extensions: deps.extensions, agents: deps.agents };
      ctx.attachSent = true;
      await env.checkpoint();
      await callHostAgent(services, ctx.hostUuid!, VmNicAgentPaths.attachNic, { vmInstanceUuid: ctx.vmUuid, nic: await nicCommand(services.db, ctx.nicUuid) });
    },
    async rollback(ctx, env) {
      if (!ctx.attachSent || !ctx.hostUuid) return;
      const services = { db: env.services.db!, extensions: deps.extensions, agents: deps.agents };
      await callHostAgent(services, ctx.hostUuid, VmNicAgentPaths.detachNic, { vmInstanceUuid: ctx.vmUuid, nic: { uuid: ctx.nicUuid, mac: ctx.mac } }).catch(() => undefined);
    },
  };
}
