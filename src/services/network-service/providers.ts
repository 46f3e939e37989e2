import { NetworkServiceProviderTypePoint, type NetworkServiceProviderBackend } from '../../contracts/network.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';

/** ZStack's built-in providers: Flat (plugin/flatNetworkProvider) and the security group provider. Control plane only. */
export const BUILTIN_PROVIDERS: Record<string, { name: string; description: string; backend: NetworkServiceProviderBackend }> = {
  Flat: { name: 'Flat Network Service Provider', description: 'Flat network: DHCP, DNS, userdata and EIP served on the hosts', backend: { serviceTypes: ['DHCP', 'DNS', 'Userdata', 'Eip', 'HostRoute', 'VipQos'] } },
  SecurityGroup: { name: 'SecurityGroup', description: 'Security groups enforced on the hosts', backend: { serviceTypes: ['SecurityGroup'] } },
};

/**
 * Runs in `start`, after every module's setup: built-in types a plugin did not take over are
 * registered, then every registered provider type gets its row and service types (created once;
 * several nodes starting together meet on UNIQUE (type) and keep the first row).
 */
export async function ensureProviders(ctx: NodeContext): Promise<void> {
  const { db, extensions } = ctx;
  for (const [type, p] of Object.entries(BUILTIN_PROVIDERS)) {
    if (!extensions.findStrategy(NetworkServiceProviderTypePoint, type)) extensions.registerStrategy(NetworkServiceProviderTypePoint, type, p.backend, { by: 'networkService' });
  }
  for (const type of extensions.strategyKeys(NetworkServiceProviderTypePoint)) {
    const backend = extensions.strategy(NetworkServiceProviderTypePoint, type);
    let row = await db.selectFrom('network_service_provider').select('uuid').where('type', '=', type).executeTakeFirst();
    if (!row) {
      const now = Date.now();
      const uuid = newUuid();
      try {
        await db.insertInto('network_service_provider').values({ uuid, name: BUILTIN_PROVIDERS[type]?.name ?? type, description: BUILTIN_PROVIDERS[type]?.description ?? null, type, createDate: now, lastOpDate: now }).execute();
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      row = await db.selectFrom('network_service_provider').select('uuid').where('type', '=', type).executeTakeFirstOrThrow();
    }
    const known = new Set((await db.selectFrom('network_service_type').select('type').where('networkServiceProviderUuid', '=', row.uuid).execute()).map((r) => r.type as string));
    for (const st of backend.serviceTypes.filter((s) => !known.has(s))) {
      try {
        await db.insertInto('network_service_type').values({ id: newUuid(), networkServiceProviderUuid: row.uuid, type: st }).execute();
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
    }
  }
}
