import { AfterHostConnected, HypervisorFactoryPoint, type ConnectHostCtx, type HostSpec } from '../../contracts/host.ts';
import { VmAgentPaths, VmMessages, VM_SERVICE } from '../../contracts/vm.ts';
import type { AgentResponse } from '../../core/agent/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

interface VmSyncResponse extends AgentResponse {
  /** uuid → state of every VM the hypervisor knows. */
  states?: Record<string, string>;
}

/** States in which the node believes a VM runs on its host: what a sync checks against the agent. */
const BELIEVED_ON_HOST = ['Running', 'Paused', 'Unknown', 'Crashed'];

/**
 * ZStack's VmTracer on host reconnect: a step at `AfterHostConnected` (the agent answered, capacity is
 * known, the host is not yet marked Connected) asks the agent which VMs it runs (`/vm/vmsync`) and
 * reconciles each VM through `vm.ReportState` (in the VM's queue): a VM recorded on the host that the
 * agent does not run becomes Stopped (capacity released); a VM the agent runs that is recorded Stopped
 * becomes Running there (capacity reserved). Not on a first add: no VM can be recorded on a new host.
 * A failed sync is logged and does not fail the connect (the next reconnect or report fixes it).
 *
 * A flow step rather than the `host.statusChanged` event: ReconnectHost of a Connected host announces
 * no change, and the step runs before ReconnectHost answers, so a client sees the VMs reconciled.
 */
export function registerVmSync(ctx: NodeContext): void {
  ctx.flows.insert(AfterHostConnected, vmSyncStep(ctx));
}

export function vmSyncStep(ctx: NodeContext): FlowStep<ConnectHostCtx> {
  return {
    name: 'vm-sync',
    async run(flowCtx) {
      if (flowCtx.newAdded) return;
      try {
        await syncHostVms(ctx, flowCtx.uuid);
      } catch (err) {
        ctx.log.warn({ err, host: flowCtx.uuid }, 'vm sync on host connect failed');
      }
    },
    rollback: noRollback,
  };
}

/** One sync of a host whose agent answers; returns what was reported to each VM (for logs and tests). */
export async function syncHostVms(ctx: NodeContext, hostUuid: string): Promise<Record<string, string>> {
  const { db, bus, extensions, agents, log } = ctx;
  // Not callHostAgent: the host is still Connecting here.
  const row = await db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken']).where('uuid', '=', hostUuid).executeTakeFirst();
  if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${hostUuid}]`);
  const endpoint = await extensions.strategy(HypervisorFactoryPoint, String(row.hypervisorType)).endpointOf(row as unknown as HostSpec);
  // Taken before asking: a VM whose record changes after this keeps the newer state (see ReportedVmState).
  const observedAt = Date.now();
  const reply = await agents.call<VmSyncResponse>(endpoint, VmAgentPaths.vmSync, { hostUuid });
  const onAgent = reply.states ?? {};
  const recorded = await db.selectFrom('vm_instance').select('uuid').where('hostUuid', '=', hostUuid).where('state', 'in', BELIEVED_ON_HOST).execute();
  const reports: Record<string, string> = { ...onAgent };
  for (const r of recorded) reports[r.uuid as string] ??= 'Stopped';
  for (const [vmUuid, vmState] of Object.entries(reports)) {
    const r = await bus.send(VM_SERVICE, VmMessages.reportState, { hostUuid: hostUuid, vmUuid, vmState, observedAt }, { resourceUuid: vmUuid });
    if (!r.success) log.warn({ host: hostUuid, vm: vmUuid, vmState, error: r.error }, 'vm sync: could not reconcile a VM');
  }
  return reports;
}
