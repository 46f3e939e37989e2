import type { Kysely } from 'kysely';
import { HypervisorFactoryPoint, type HostSpec, type HypervisorFactory } from '../../contracts/host.ts';
import type { AgentEndpoint } from '../../core/agent/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';
import { notFound } from '../../core/resource/resource-store.ts';
import { HostInventory } from './schema.ts';

/** What host flow steps need beyond `env.services` (bound when the node builds the chains). */
export interface HostFlowDeps {
  extensions: ExtensionRegistry;
  cpuOverProvisioningRatio: ConfigHandle<number>;
}

export async function hostSpecOf(db: Kysely<any>, uuid: string): Promise<HostSpec> {
  const row = await db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken']).where('uuid', '=', uuid).executeTakeFirst();
  if (!row) throw notFound(HostInventory, uuid);
  return row as HostSpec;
}

/** The host, its hypervisor (SYS.1013 when no plugin implements its type) and its agent's endpoint. */
export async function reachHost(db: Kysely<any>, extensions: ExtensionRegistry, uuid: string): Promise<{ spec: HostSpec; factory: HypervisorFactory; endpoint: AgentEndpoint }> {
  const spec = await hostSpecOf(db, uuid);
  const factory = extensions.strategy(HypervisorFactoryPoint, spec.hypervisorType);
  return { spec, factory, endpoint: await factory.endpointOf(spec) };
}
