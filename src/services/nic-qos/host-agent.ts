import { HostErrors, HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import type { AgentResponse } from '../../core/agent/index.ts';
import { rowByKey } from '../../core/db/rows-by-key.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

const HOST_COLUMNS = ['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status'];

/**
 * Sends one command to a host's agent. `connecting`: the host is being (re)connected and not marked
 * Connected yet (a replay); otherwise a host that is not Connected is refused with HOST's error.
 */
export async function callHost<R extends AgentResponse = AgentResponse>(ctx: NodeContext, hostUuid: string, path: string, cmd: Record<string, unknown>, opts: { connecting?: boolean } = {}): Promise<R> {
  // Read fresh (its status decides), as SQL text built once: every VM create with QoS reaches here.
  const host = (await rowByKey(ctx.db, 'host', HOST_COLUMNS, 'uuid', hostUuid)) as (HostSpec & { status: string }) | undefined;
  if (!host) throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is gone; ${path} cannot be sent`);
  if (!opts.connecting && host.status !== 'Connected') throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is ${host.status}; ${path} cannot be sent (a reconnect re-sends it)`);
  const endpoint = await ctx.extensions.strategy(HypervisorFactoryPoint, host.hypervisorType).endpointOf(host);
  return ctx.agents.call<R>(endpoint, path, { hostUuid, ...cmd });
}

export const isNotConnected = (e: unknown) => e instanceof StratoError && e.errorCode.code === HostErrors.NOT_CONNECTED.code;
