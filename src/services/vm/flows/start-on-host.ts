import type { Kysely } from 'kysely';
import { VmAgentPaths } from '../../../contracts/vm.ts';
import type { AgentClient } from '../../../core/agent/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { callHostAgent } from '../vm-agent.ts';

export interface VmFlowDeps {
  extensions: ExtensionRegistry;
  agents: AgentClient;
}

interface OnHostCtx {
  uuid: string;
  host?: { hostUuid: string };
  startSent?: boolean;
  strategy?: string;
}

/** What the agent is told to start: the VM with its volumes and NICs (ZStack's StartVmCmd, abridged). */
export async function startVmCommand(db: Kysely<any>, vmUuid: string): Promise<Record<string, unknown>> {
  const vm = await db.selectFrom('vm_instance').selectAll().where('uuid', '=', vmUuid).executeTakeFirstOrThrow();
  const volumes = await db.selectFrom('volume').select(['uuid', 'type', 'installPath', 'deviceId', 'format']).where('vmInstanceUuid', '=', vmUuid).orderBy('deviceId').execute();
  const nics = await db.selectFrom('vm_nic').select(['uuid', 'mac', 'ip', 'netmask', 'gateway', 'l3NetworkUuid', 'deviceId', 'internalName']).where('vmInstanceUuid', '=', vmUuid).orderBy('deviceId').execute();
  return {
    vmInstanceUuid: vmUuid, vmName: vm.name, cpuNum: Number(vm.cpuNum), memorySize: Number(vm.memorySize), cpuSpeed: Number(vm.cpuSpeed),
    rootVolume: volumes.find((v) => v.type === 'Root') ?? null, dataVolumes: volumes.filter((v) => v.type === 'Data'), nics,
  };
}

/** `/vm/start` on the chosen host's agent; rollback destroys whatever the agent may have started. */
export function startOnHost<Ctx extends OnHostCtx>(deps: VmFlowDeps): FlowStep<Ctx> {
  return {
    name: 'start-on-host',
    skip: (ctx) => ctx.strategy === 'CreateStopped',
    async run(ctx, env) {
      const services = { db: env.services.db!, extensions: deps.extensions, agents: deps.agents };
      ctx.startSent = true;
      await env.checkpoint();
      await callHostAgent(services, ctx.host!.hostUuid, VmAgentPaths.start, await startVmCommand(services.db, ctx.uuid));
    },
    async rollback(ctx, env) {
      if (!ctx.startSent || !ctx.host) return;
      await callHostAgent({ db: env.services.db!, extensions: deps.extensions, agents: deps.agents }, ctx.host.hostUuid, VmAgentPaths.destroy, { vmInstanceUuid: ctx.uuid }).catch(() => undefined);
    },
  };
}
