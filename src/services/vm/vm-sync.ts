import { HostLifecyclePoint, type HostInventoryView } from '../../contracts/host.ts';
import { VmAgentPaths, VmMessages, VM_SERVICE } from '../../contracts/vm.ts';
import type { AgentResponse } from '../../core/agent/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { callHostAgent } from './vm-agent.ts';

interface VmSyncResponse extends AgentResponse {
  /** uuid → state of every VM the hypervisor knows. */
  states?: Record<string, string>;
}

/** States in which the node believes a VM runs on its host: what a sync checks against the agent. */
const BELIEVED_ON_HOST = ['Running', 'Paused', 'Unknown', 'Crashed'];

/**
 * ZStack's VmTracer on host (re)connect: once a host is Connected, its agent is asked which VMs it runs
 * (`/vm/vmsync`) and each VM's record is reconciled through `vm.ReportState` (in the VM's queue): a VM
 * recorded on the host that the agent does not run becomes Stopped (capacity released); a VM the agent
 * runs that is recorded Stopped becomes Running there (capacity reserved).
 *
 * Hooked on `afterStatusChange` rather than the `host.statusChanged` event: it runs on the host's owner
 * before ReconnectHost answers, so a client (and a test) sees the VMs reconciled when the host is.
 */
export function registerVmSync(ctx: NodeContext): void {
  ctx.extensions.registerObserver(HostLifecyclePoint, {
    async afterStatusChange(host) {
      if (host.status === 'Connected') await syncHostVms(ctx, host);
    },
  }, { by: 'vm' });
}

/** One sync of a connected host; returns what was reported to each VM (for logs and tests). */
export async function syncHostVms(ctx: NodeContext, host: Pick<HostInventoryView, 'uuid'>): Promise<Record<string, string>> {
  const { db, bus, extensions, agents, log } = ctx;
  const reply = await callHostAgent<VmSyncResponse>({ db, extensions, agents }, host.uuid, VmAgentPaths.vmSync, {});
  const onAgent = reply.states ?? {};
  const recorded = await db.selectFrom('vm_instance').select('uuid').where('hostUuid', '=', host.uuid).where('state', 'in', BELIEVED_ON_HOST).execute();
  const reports: Record<string, string> = { ...onAgent };
  for (const r of recorded) reports[r.uuid as string] ??= 'Stopped';
  for (const [vmUuid, vmState] of Object.entries(reports)) {
    const r = await bus.send(VM_SERVICE, VmMessages.reportState, { hostUuid: host.uuid, vmUuid, vmState }, { resourceUuid: vmUuid });
    if (!r.success) log.warn({ host: host.uuid, vm: vmUuid, vmState, error: r.error }, 'vm sync: could not reconcile a VM');
  }
  return reports;
}
