import type { Kysely } from 'kysely';
import { HostErrors, HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import { VmCommandDecoratorPoint } from '../../contracts/vm.ts';
import type { AgentCallOptions, AgentClient, AgentResponse } from '../../core/agent/index.ts';
import { rowByKey } from '../../core/db/rows-by-key.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';

const HOST_AGENT_COLUMNS = ['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status'];

/** Sends VM commands to the agent of the host a VM is on (its hypervisor plugin says where it listens). */
export async function callHostAgent<R extends AgentResponse = AgentResponse>(
  deps: { db: Kysely<any>; extensions: ExtensionRegistry; agents: AgentClient },
  hostUuid: string,
  path: string,
  cmd: Record<string, unknown>,
  opts: AgentCallOptions & { sync?: boolean } = {},
): Promise<R> {
  // Read fresh for every command (its status decides), as SQL text built once: a create sends several.
  const row = await rowByKey(deps.db, 'host', HOST_AGENT_COLUMNS, 'uuid', hostUuid);
  if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${hostUuid}]`);
  if (row.status !== 'Connected') throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is ${String(row.status)}; ${path} cannot be sent`);
  const factory = deps.extensions.strategy(HypervisorFactoryPoint, String(row.hypervisorType));
  const endpoint = await factory.endpointOf(row as unknown as HostSpec);
  const body = { hostUuid, ...(await decorateVmCommand(deps.extensions, String(row.hypervisorType), hostUuid, path, cmd)) };
  return opts.sync ? deps.agents.callSync<R>(endpoint, path, body, opts) : deps.agents.call<R>(endpoint, path, body, opts);
}

/** Every decorator for the host's hypervisor type, in order, each on what the previous returned (KVM: NoVlan bridges; VXLAN: its bridges). */
export async function decorateVmCommand(extensions: ExtensionRegistry, hypervisorType: string, hostUuid: string, path: string, cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  let out = cmd;
  for (const d of extensions.observers(VmCommandDecoratorPoint)) {
    if (d.hypervisorTypes && !d.hypervisorTypes.includes(hypervisorType)) continue;
    out = await d.decorate(path, out, hostUuid);
  }
  return out;
}
