import { sql } from 'kysely';
import { HostAgentPaths, type ConnectHostCtx, type HostCapacityResponse } from '../../../contracts/host.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import { reachHost, type HostFlowDeps } from '../host-agent.ts';

/**
 * `/host/capacity`: totals from the agent (CPU times the over-provisioning ratio). Available capacity
 * moves by the change of the total, so what is already reserved stays reserved across reconnects.
 */
export const fetchCapacity = (deps: HostFlowDeps): FlowStep<ConnectHostCtx> => ({
  name: 'fetch-capacity',
  async run(ctx, env) {
    const { endpoint } = await reachHost(env.services.db!, deps.extensions, ctx.uuid);
    const r = await env.services.agents!.call<HostCapacityResponse>(endpoint, HostAgentPaths.capacity, {});
    const totalCpu = Math.floor(Number(r.cpuNum) * deps.cpuOverProvisioningRatio.get());
    const totalMemory = Number(r.totalMemory);
    const availablePhysical = totalMemory - Number(r.usedMemory ?? 0);
    // Each available column is assigned before its total (MariaDB evaluates SET left to right).
    await env.services.db!
      .updateTable('host')
      .set({
        availableCpuCapacity: sql`availableCpuCapacity + (${totalCpu} - totalCpuCapacity)`,
        totalCpuCapacity: totalCpu,
        availableMemoryCapacity: sql`availableMemoryCapacity + (${totalMemory} - totalMemoryCapacity)`,
        totalMemoryCapacity: totalMemory,
        totalPhysicalMemory: totalMemory,
        availablePhysicalMemory: availablePhysical,
        cpuNum: Number(r.cpuNum),
        cpuSockets: Number(r.cpuSockets ?? 1),
        lastOpDate: Date.now(),
      })
      .where('uuid', '=', ctx.uuid)
      .execute();
  },
  rollback: noRollback,
});
