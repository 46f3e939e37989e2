import type { Kysely } from 'kysely';
import { HostErrors, HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import { VmCommandDecoratorPoint } from '../../contracts/vm.ts';
import type { AgentClient, AgentResponse } from '../../core/agent/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';

/** Sends VM commands to the agent of the host a VM is on (its hypervisor plugin says where it listens). */
export async function callHostAgent<R extends AgentResponse = AgentResponse>(
  deps: { db: Kysely<any>; extensions: ExtensionRegistry; agents: AgentClient },
  hostUuid: string,
  path: string,
  cmd: Record<string, unknown>,
): Promise<R> {
  const row = await deps.db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status']).where('uuid', '=', hostUuid).executeTakeFirst();
  if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${hostUuid}]`);
  if (row.status !== 'Connected') throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is ${String(row.status)}; ${path} cannot be sent`);
  const factory = deps.extensions.strategy(HypervisorFactoryPoint, String(row.hypervisorType));
  const endpoint = await factory.endpointOf(row as unknown as HostSpec);
  // The host's hypervisor plugin may add what its agent needs (KVM: each NIC's bridge and interface).
  const decorator = deps.extensions.findStrategy(VmCommandDecoratorPoint, String(row.hypervisorType));
  return deps.agents.call<R>(endpoint, path, { hostUuid, ...(decorator ? await decorator.decorate(path, cmd, hostUuid) : cmd) });
}
