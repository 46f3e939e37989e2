import type { Kysely } from 'kysely';
import { HostErrors, HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import type { AgentClient, AgentResponse } from '../../core/agent/index.ts';
import { rowByKey } from '../../core/db/rows-by-key.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';

const HOST_COLUMNS = ['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status'];

export interface HostRow {
  uuid: string;
  clusterUuid: string;
  managementIp: string;
  hypervisorType: string;
  status: string;
}

export interface NetworkPluginDeps {
  db: Kysely<any>;
  extensions: ExtensionRegistry;
  agents: AgentClient;
}

/**
 * Network commands to a host's agent. Unlike the VM service's callHostAgent it sends to a host that is
 * still Connecting: `hostConnected` runs inside the connect chain, before the host is marked Connected.
 * A Disconnected host is refused at once (HOST.1002).
 */
export function hostAgent(deps: NetworkPluginDeps) {
  async function host(hostUuid: string): Promise<HostRow & HostSpec> {
    // Read fresh for every command (its status decides), as SQL text built once.
    const row = await rowByKey(deps.db, 'host', HOST_COLUMNS, 'uuid', hostUuid);
    if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${hostUuid}]`);
    return row as unknown as HostRow & HostSpec;
  }
  return {
    host,
    async call<R extends AgentResponse = AgentResponse>(hostUuid: string, path: string, cmd: object): Promise<R> {
      const h = await host(hostUuid);
      // A disconnected host would only make us wait for a timeout; its next connect re-sends everything.
      if (h.status === 'Disconnected') throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is Disconnected; ${path} cannot be sent`);
      const endpoint = await deps.extensions.strategy(HypervisorFactoryPoint, h.hypervisorType).endpointOf(h);
      return deps.agents.call<R>(endpoint, path, { hostUuid, ...cmd });
    },
  };
}

export type HostAgent = ReturnType<typeof hostAgent>;
