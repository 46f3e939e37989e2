import { HostErrors, HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

/**
 * Sends one command to a host's agent, one at a time per host (so the last sent is the latest state).
 * A Disconnected host is refused with HOST's error (its reconnect's sync catches up). A Connecting one
 * gets it, after its reconnect's sync if that is queued first: a change made after the sync computed
 * the host's set would otherwise be lost (a detached EIP left announced there). `connecting`: the sync.
 */
export function sendToHost(ctx: NodeContext, hostUuid: string, path: string, cmd: Record<string, unknown> | (() => Promise<Record<string, unknown>>), opts: { connecting?: boolean } = {}): Promise<Record<string, unknown>> {
  return ctx.queues.submit(`flat-eip-host-${hostUuid}`, async () => {
    const host = (await ctx.db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status']).where('uuid', '=', hostUuid).executeTakeFirst()) as (HostSpec & { status: string }) | undefined;
    if (!host || (!opts.connecting && host.status === 'Disconnected')) throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is ${host?.status ?? 'gone'}; ${path} cannot be sent (a reconnect re-sends it)`);
    const endpoint = await ctx.extensions.strategy(HypervisorFactoryPoint, host.hypervisorType).endpointOf(host);
    // a function is worked out here, in the host's queue, so it sees what the commands queued before it did
    return ctx.agents.call(endpoint, path, { hostUuid, ...(typeof cmd === 'function' ? await cmd() : cmd) });
  });
}

export const isNotConnected = (e: unknown) => e instanceof StratoError && e.errorCode.code === HostErrors.NOT_CONNECTED.code;
